// rvc-rt convert of a ten-minute input through the tiny fixture voice (label slow: minutes of
// CPU here). Finishes, keeps its length, and memory stays bounded by the audio.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "rvc/formats/audio_file.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

using test::q;

TEST(ConvertRvcLong, TenMinutesKeepLengthInBoundedMemory) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
  const test::Case& c = cases.front();
  const auto& files = c.manifest.at("files");
  const auto rmvpe_cases = test::cases_of_kind("rmvpe");
  ASSERT_FALSE(rmvpe_cases.empty()) << "no fixture case of kind rmvpe";
  const fs::path rmvpe = fs::absolute(
      rmvpe_cases.front().file(rmvpe_cases.front().manifest.at("files").at("rmvpe").at("file")));
  const int sr = c.manifest.at("parameters").at("tgt_sr").get<int>();
  const fs::path dir = fs::temp_directory_path() / ("rvc_convert_long_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  const int64_t n = int64_t{600} * 16000;
  {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double t = static_cast<double>(i) / 16000;
      x[static_cast<size_t>(i)] = static_cast<float>(0.3 * std::sin(2 * M_PI * 150 * t) *
                                                     std::max(0.0, std::sin(2 * M_PI * 0.7 * t)));
    }
    formats::write_audio((dir / "long.wav").string(), x.data(), n, 16000);
  }
  std::string log;
  const int rc =
      test::run_command(q(test::rvc_rt_bin()) + " convert --quiet --no-noise --model " +
                            q(fs::absolute(c.file(files.at("model").at("file")))) + " --hubert " +
                            q(fs::absolute(c.file(files.at("hubert").at("file")))) + " --index " +
                            q(fs::absolute(c.file(files.at("index").at("file")))) + " --rmvpe " +
                            q(rmvpe) + " " + q(dir / "long.wav") + " -o " + q(dir / "long_out.wav"),
                        &log, true);
  ASSERT_EQ(rc, 0) << log;
  const auto info = formats::probe_audio((dir / "long_out.wav").string());
  EXPECT_EQ(info.sample_rate, sr);
  // Each chunk loses at most a few frames to HuBERT's framing (exact per-chunk lengths are
  // checked in tests/unit/pipeline/pipeline_long_test.cc).
  const int64_t want = n * sr / 16000, chunks = 600 / 38 + 2;
  EXPECT_LE(info.frames, want);
  EXPECT_GE(info.frames, want - chunks * 4 * (sr / 100));
  struct rusage ru {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0);
  // The output alone is 24M samples (96 MB as float, plus int16); chunks are converted one at a
  // time, so peak memory is a small multiple of the audio, not of the model activations.
  EXPECT_LT(ru.ru_maxrss, 2 * 1024 * 1024) << "peak RSS of a child in KiB";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rvc
