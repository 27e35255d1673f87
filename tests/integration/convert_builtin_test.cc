// rvc-rt convert with the built-in DSP voice, run as a user would: the real binary on files.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rvc/dsp/f0.h"
#include "rvc/formats/audio_file.h"
#include "support/audio_checks.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

using test::q;

class ConvertBuiltin : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("rvc_convert_builtin");
    sample_ = fs::path(RVC_SOURCE_DIR) / "assets" / "sample.wav";
    ASSERT_TRUE(fs::exists(sample_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  int convert(const std::string& args, std::string* out) {
    return test::run_command(q(test::rvc_rt_bin()) + " convert " + args, out, true);
  }

  fs::path dir_, sample_;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_F(ConvertBuiltin, PitchFiveKeepsLengthAndMovesF0) {
  const fs::path out = dir_ / "out.wav";
  std::string log;
  ASSERT_EQ(convert(q(sample_) + " -o " + q(out) + " --pitch 5", &log), 0) << log;
  EXPECT_NE(log.find("built-in"), std::string::npos) << log;
  EXPECT_NE(log.find("real time"), std::string::npos) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << "no progress bar when stderr is not a terminal";
  const auto in = formats::read_audio_mono(sample_.string());
  const auto got = formats::read_audio_mono(out.string());
  EXPECT_EQ(got.sample_rate, in.sample_rate);
  ASSERT_EQ(got.samples.size(), in.samples.size());
  const double want = std::pow(2.0, 5.0 / 12.0);
  EXPECT_NEAR(test::median_f0_ratio(in.samples, got.samples, in.sample_rate), want, 0.02 * want);
}

// On a terminal the batch shows a redrawn bar with ETA (util-linux `script` gives the binary a
// pseudo-terminal), then the same per-file summary line as without one.
TEST_F(ConvertBuiltin, ProgressBarWithEtaOnATerminal) {
  std::string probe;
  if (test::run_command("script --version", &probe, true) != 0) GTEST_SKIP() << "no script(1)";
  fs::copy_file(sample_, dir_ / "a.wav");
  fs::copy_file(sample_, dir_ / "b.wav");
  const std::string cmd = q(test::rvc_rt_bin()) + " convert " + q(dir_ / "a.wav") + " " +
                          q(dir_ / "b.wav") + " -o " + q(dir_ / "batch") + " --pitch 2";
  std::string log;
  ASSERT_EQ(test::run_command("script -qec " + q(cmd) + " /dev/null", &log, true), 0) << log;
  EXPECT_NE(log.find('\r'), std::string::npos) << log;
  EXPECT_NE(log.find("ETA "), std::string::npos) << log;
  EXPECT_NE(log.find("file 2/2"), std::string::npos) << log;
  EXPECT_NE(log.find("real time"), std::string::npos) << log;
}

TEST_F(ConvertBuiltin, DirectoryKeepsRelativePaths) {
  fs::create_directories(dir_ / "in" / "sub");
  fs::copy_file(sample_, dir_ / "in" / "a.wav");
  fs::copy_file(sample_, dir_ / "in" / "sub" / "b.wav");
  std::ofstream(dir_ / "in" / "notes.txt") << "not audio";
  std::string log;
  ASSERT_EQ(convert(q(dir_ / "in") + " -o " + q(dir_ / "out") + " --format flac --pitch -3", &log),
            0)
      << log;
  const auto in = formats::read_audio_mono(sample_.string());
  for (const char* rel : {"a.flac", "sub/b.flac"}) {
    const fs::path p = dir_ / "out" / rel;
    ASSERT_TRUE(fs::exists(p)) << p << "\n" << log;
    EXPECT_EQ(formats::read_audio_mono(p.string()).samples.size(), in.samples.size());
  }
  EXPECT_FALSE(fs::exists(dir_ / "out" / "notes.flac"));
  // The built-in voice is announced once per run, not per file.
  size_t announced = 0;
  for (size_t at = log.find("built-in"); at != std::string::npos;
       at = log.find("built-in", at + 1)) {
    ++announced;
  }
  EXPECT_EQ(announced, 1u) << log;
}

TEST_F(ConvertBuiltin, OutputInsideInputDirectoryIsNotReconverted) {
  fs::create_directories(dir_ / "in");
  fs::copy_file(sample_, dir_ / "in" / "a.wav");
  std::string log;
  ASSERT_EQ(convert(q(dir_ / "in") + " -o " + q(dir_ / "in" / "out"), &log), 0) << log;
  ASSERT_TRUE(fs::exists(dir_ / "in" / "out" / "a.wav")) << log;
  ASSERT_EQ(convert(q(dir_ / "in") + " -o " + q(dir_ / "in" / "out"), &log), 0) << log;
  EXPECT_FALSE(fs::exists(dir_ / "in" / "out" / "out")) << log;
}

TEST_F(ConvertBuiltin, BadFileAmongGoodOnesExitsOneAndConvertsTheRest) {
  fs::create_directories(dir_ / "in");
  fs::copy_file(sample_, dir_ / "in" / "a.wav");
  std::ofstream(dir_ / "in" / "b.wav") << "this is not a wav file";
  fs::copy_file(sample_, dir_ / "in" / "c.wav");
  std::string log;
  EXPECT_EQ(convert(q(dir_ / "in") + " -o " + q(dir_ / "out"), &log), 1) << log;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "a.wav")) << log;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "c.wav")) << log;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "b.wav"));
  EXPECT_NE(log.find("rvc-rt: error: " + (dir_ / "in" / "b.wav").string() + ":"), std::string::npos)
      << log;
}

TEST_F(ConvertBuiltin, RefusesToOverwriteInput) {
  const fs::path in = dir_ / "voice.wav";
  fs::copy_file(sample_, in);
  const std::string before = slurp(in);
  std::string log;
  EXPECT_EQ(convert(q(in) + " -o " + q(in) + " --pitch 2", &log), 2) << log;
  EXPECT_NE(log.find("overwrite"), std::string::npos) << log;
  // The same file reached through the directory form.
  EXPECT_EQ(convert(q(in) + " -o " + q(dir_) + "/", &log), 2) << log;
  EXPECT_EQ(slurp(in), before);
}

TEST_F(ConvertBuiltin, MissingModelExitsTwoNamingIt) {
  std::string log;
  EXPECT_EQ(convert(q(sample_) + " -o " + q(dir_ / "o.wav") + " --models-dir " + q(dir_) +
                        " --model nobody",
                    &log),
            2);
  EXPECT_NE(log.find("nobody.pth"), std::string::npos) << log;
  EXPECT_EQ(log.find("internal"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir_ / "o.wav"));
}

// Ten minutes of input: finishes, keeps its length, and memory stays proportional to the audio
// (the whole file is held a few times over, never per-sample state beyond that).
TEST_F(ConvertBuiltin, TenMinutesKeepLengthInBoundedMemory) {
  const int sr = 16000;
  const int64_t n = int64_t{600} * sr;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / sr;
    x[static_cast<size_t>(i)] = static_cast<float>(0.3 * std::sin(2 * M_PI * 140 * t) *
                                                   (0.6 + 0.4 * std::sin(2 * M_PI * 0.5 * t)));
  }
  const fs::path in = dir_ / "long.wav", out = dir_ / "long_out.wav";
  formats::write_audio(in.string(), x.data(), n, sr);
  std::string log;
  ASSERT_EQ(convert(q(in) + " -o " + q(out) + " --pitch 3 --quiet", &log), 0) << log;
  const auto info = formats::probe_audio(out.string());
  EXPECT_EQ(info.sample_rate, sr);
  EXPECT_EQ(info.frames, n);
  struct rusage ru {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0);
  // 600 s of 16 kHz float is 38 MB; a few copies plus the program is far below 1 GiB.
  EXPECT_LT(ru.ru_maxrss, 1024 * 1024) << "peak RSS of a child in KiB";
}

TEST_F(ConvertBuiltin, MissingInputAndBadFlags) {
  std::string log;
  EXPECT_EQ(convert(q(dir_ / "nope.wav") + " -o " + q(dir_ / "o.wav"), &log), 2) << log;
  EXPECT_NE(log.find("nope.wav"), std::string::npos) << log;
  EXPECT_EQ(convert(q(sample_) + " -o " + q(dir_ / "o.wav") + " --pitch 99", &log), 2) << log;
  EXPECT_EQ(convert(q(sample_) + " -o " + q(dir_ / "o.wav") + " --format mp3", &log), 2) << log;
  EXPECT_EQ(convert(q(sample_), &log), 2) << log;
}

}  // namespace
}  // namespace rvc
