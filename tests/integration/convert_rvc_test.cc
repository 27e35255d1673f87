// rvc-rt convert with a real (tiny, upstream-format) RVC voice, run as a user would: the binary
// on files, with a models directory made of symlinks to the first pipeline fixture case. The
// ten-minute input is in slow/convert_rvc_long_test.cc.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rvc/formats/audio_file.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/faiss_index.h"
#include "rvc/formats/model_info.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

using test::q;

class ConvertRvc : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cases = test::cases_of_kind("pipeline");
    ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
    const test::Case& c = cases.front();
    const auto& files = c.manifest.at("files");
    const auto rmvpe_cases = test::cases_of_kind("rmvpe");
    ASSERT_FALSE(rmvpe_cases.empty()) << "no fixture case of kind rmvpe";
    rmvpe_ = fs::absolute(
        rmvpe_cases.front().file(rmvpe_cases.front().manifest.at("files").at("rmvpe").at("file")));
    index_ = fs::absolute(c.file(files.at("index").at("file")));
    input_ = fs::absolute(c.file(files.at("input_wav").at("file")));
    model_sr_ = c.manifest.at("parameters").at("tgt_sr").get<int>();
    x_pad_ = c.manifest.at("parameters").value("x_pad", 1);
    const formats::Checkpoint ck =
        formats::load_checkpoint(c.file(files.at("hubert").at("file")).string());
    hubert_convs_ = formats::read_hubert(ck, false).conv_layers;

    dir_ = test::make_temp_dir("rvc_convert_rvc");
    models_ = dir_ / "models";
    fs::create_directories(models_);
    fs::create_symlink(fs::absolute(c.file(files.at("model").at("file"))), models_ / "voice.pth");
    fs::create_symlink(index_, models_ / "voice.index");
    fs::create_symlink(fs::absolute(c.file(files.at("hubert").at("file"))),
                       models_ / "hubert_base.pt");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs convert with the fixture voice; extra flags are appended.
  int convert(const std::string& args, std::string* log) {
    log->clear();
    return test::run_command(q(test::rvc_rt_bin()) + " convert --models-dir " + q(models_) +
                                 " --model voice --rmvpe " + q(rmvpe_) + " --no-noise " + args,
                             log, true);
  }
  fs::path write_wav(const std::string& name, const std::vector<float>& x, int sr = 16000) {
    const fs::path p = dir_ / name;
    formats::write_audio(p.string(), x.data(), static_cast<int64_t>(x.size()), sr);
    return p;
  }
  // Upstream's output length for a one-chunk input (ref: Pipeline.vc): the padded audio gives
  // min(2 * HuBERT frames, len / 160) model frames, minus x_pad s on both sides.
  void expect_length(const fs::path& out, int64_t n16) {
    const int64_t t_pad = int64_t{16000} * x_pad_, len = n16 + 2 * t_pad;
    int64_t h = len;
    for (const auto& l : hubert_convs_) h = (h - l.kernel) / l.stride + 1;
    const int64_t frames = std::min(2 * h, len / 160) - 2 * t_pad / 160;
    const auto info = formats::probe_audio(out.string());
    EXPECT_EQ(info.sample_rate, model_sr_);
    EXPECT_EQ(info.frames, frames * (model_sr_ / 100)) << out;
  }

  fs::path dir_, models_, rmvpe_, index_, input_;
  int model_sr_ = 0, x_pad_ = 1;
  std::vector<formats::ConvLayerSpec> hubert_convs_;
};

TEST_F(ConvertRvc, FixtureVoiceGivesModelRateAndLength) {
  const fs::path out = dir_ / "out.wav";
  std::string log;
  ASSERT_EQ(convert(q(input_) + " -o " + q(out) + " --pitch 3", &log), 0) << log;
  EXPECT_NE(log.find("using voice"), std::string::npos) << log;
  EXPECT_NE(log.find("real time"), std::string::npos) << log;
  const auto in = formats::read_audio_mono(input_.string());
  ASSERT_EQ(in.sample_rate, 16000);
  expect_length(out, static_cast<int64_t>(in.samples.size()));
  const auto got = formats::read_audio_mono(out.string());
  double energy = 0;
  for (float v : got.samples) energy += double{v} * v;
  EXPECT_GT(energy, 0.0) << "silent output";
}

TEST_F(ConvertRvc, YinNeedsNoRmvpeAndResampleSetsTheRate) {
  const fs::path out = dir_ / "yin.flac";
  std::string log;
  const int rc = test::run_command(q(test::rvc_rt_bin()) + " convert --models-dir " + q(models_) +
                                       " --model voice --f0-method yin --resample-sr 22050 " +
                                       q(input_) + " -o " + q(out),
                                   &log, true);
  ASSERT_EQ(rc, 0) << log;
  const auto info = formats::probe_audio(out.string());
  EXPECT_EQ(info.sample_rate, 22050);
  const auto in = formats::probe_audio(input_.string());
  EXPECT_NEAR(static_cast<double>(info.frames), in.frames * 22050.0 / 16000.0, 22050 * 0.02);
}

TEST_F(ConvertRvc, F0FileChangesTheOutputNotItsLength) {
  std::string log;
  const fs::path plain = dir_ / "plain.wav", curve = dir_ / "curve.wav", f0 = dir_ / "f0.txt";
  {
    std::ofstream f(f0);
    for (int i = 0; i <= 40; ++i) f << i * 0.1 << "," << 180 + 40 * std::sin(i * 0.3) << "\n";
  }
  ASSERT_EQ(convert(q(input_) + " -o " + q(plain), &log), 0) << log;
  ASSERT_EQ(convert(q(input_) + " -o " + q(curve) + " --f0-file " + q(f0), &log), 0) << log;
  const auto a = formats::read_audio_mono(plain.string());
  const auto b = formats::read_audio_mono(curve.string());
  ASSERT_EQ(a.samples.size(), b.samples.size());
  EXPECT_NE(a.samples, b.samples);
  std::ofstream(f0, std::ios::app) << "oops\n";
  EXPECT_EQ(convert(q(input_) + " -o " + q(dir_ / "bad.wav") + " --f0-file " + q(f0), &log), 2);
  EXPECT_NE(log.find("f0.txt"), std::string::npos) << log;
}

TEST_F(ConvertRvc, MissingFilesExitTwoNamingThem) {
  std::string log;
  const std::string io = q(input_) + " -o " + q(dir_ / "o.wav");
  EXPECT_EQ(convert(io + " --model nobody", &log), 2);
  EXPECT_NE(log.find("nobody.pth"), std::string::npos) << log;
  EXPECT_EQ(convert(io + " --hubert " + q(dir_ / "nope" / "hubert_base.pt"), &log), 2);
  EXPECT_NE(log.find("nope/hubert_base.pt"), std::string::npos) << log;
  EXPECT_NE(log.find("huggingface"), std::string::npos) << log;  // where to get it
  EXPECT_EQ(convert(io + " --rmvpe " + q(dir_ / "nope" / "rmvpe.pt"), &log), 2);
  EXPECT_NE(log.find("nope/rmvpe.pt"), std::string::npos) << log;
  EXPECT_EQ(convert(io + " --index " + q(dir_ / "gone.index"), &log), 2);
  EXPECT_NE(log.find("gone.index"), std::string::npos) << log;
  fs::remove(models_ / "hubert_base.pt");
  EXPECT_EQ(convert(io, &log), 2);
  EXPECT_NE(log.find("hubert_base.pt not found"), std::string::npos) << log;
  EXPECT_EQ(log.find("internal"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir_ / "o.wav"));
}

TEST_F(ConvertRvc, IndexOfTheWrongWidthIsRefused) {
  const int voice_dim = formats::FeatureIndex::load(index_.string()).dim();
  const int bad_dim = voice_dim == 256 ? 768 : 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(400) * static_cast<size_t>(bad_dim));
  for (float& x : v) x = d(rng);
  faiss::IndexFlatL2 quantizer(bad_dim);
  faiss::IndexIVFFlat ivf(&quantizer, bad_dim, 4);
  ivf.train(400, v.data());
  ivf.add(400, v.data());
  const fs::path bad = dir_ / "bad.index";
  faiss::write_index(&ivf, bad.string().c_str());
  std::string log;
  EXPECT_EQ(convert(q(input_) + " -o " + q(dir_ / "o.wav") + " --index " + q(bad), &log), 2);
  EXPECT_NE(log.find("bad.index"), std::string::npos) << log;
  EXPECT_NE(log.find(std::to_string(bad_dim)), std::string::npos) << log;
  EXPECT_NE(log.find(std::to_string(voice_dim)), std::string::npos) << log;
}

TEST_F(ConvertRvc, UnreadableSilentAndShortInputs) {
  fs::create_directories(dir_ / "in");
  std::ofstream(dir_ / "in" / "broken.wav") << "RIFF but not really";
  const std::vector<float> silence(16000, 0.0f);
  std::vector<float> short_tone(1600);
  for (size_t i = 0; i < short_tone.size(); ++i) {
    short_tone[i] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * 200 * static_cast<double>(i) / 16000));
  }
  write_wav("in/silence.wav", silence);
  write_wav("in/short.wav", short_tone);
  std::string log;
  EXPECT_EQ(convert(q(dir_ / "in") + " -o " + q(dir_ / "out"), &log), 1) << log;
  EXPECT_NE(log.find("rvc-rt: error: " + (dir_ / "in" / "broken.wav").string()), std::string::npos)
      << log;
  expect_length(dir_ / "out" / "silence.wav", 16000);
  expect_length(dir_ / "out" / "short.wav", 1600);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "broken.wav"));
  // Alone, the unreadable file converts nothing: exit 2.
  EXPECT_EQ(convert(q(dir_ / "in" / "broken.wav") + " -o " + q(dir_ / "b.wav"), &log), 2) << log;
}

TEST_F(ConvertRvc, BadSettingsForRvcVoices) {
  std::string log;
  const std::string io = q(input_) + " -o " + q(dir_ / "o.wav");
  EXPECT_EQ(convert(io + " --formant 2", &log), 2);
  EXPECT_NE(log.find("--formant: only the built-in voice"), std::string::npos) << log;
  EXPECT_EQ(convert(io + " --speaker 100000", &log), 2);
  EXPECT_NE(log.find("--speaker"), std::string::npos) << log;
  EXPECT_EQ(convert(io + " --index-rate 1.5", &log), 2);
  EXPECT_NE(log.find("--index-rate: expected 0..1"), std::string::npos) << log;
  EXPECT_EQ(convert(io + " --f0-method crepe", &log), 2);
  EXPECT_NE(log.find("--f0-method"), std::string::npos) << log;
}

// Flag beats environment beats config file, seen through --print-config.
TEST_F(ConvertRvc, SettingsPrecedenceThroughPrintConfig) {
  const fs::path cfg = dir_ / "rvc.toml";
  std::ofstream(cfg) << "# test config\npitch = 1\nindex_rate = 0.5\n[convert]\nprotect = 0.2\n"
                        "[serve]\nport = 9\n";
  const std::string bin = q(test::rvc_rt_bin()) + " convert --print-config";
  std::string out;
  ASSERT_EQ(test::run_command("RVC_CONFIG=" + q(cfg) + " " + bin, &out), 0) << out;
  EXPECT_NE(out.find("pitch = 1 "), std::string::npos) << out;
  EXPECT_NE(out.find("protect = 0.2"), std::string::npos) << out;
  ASSERT_EQ(test::run_command("RVC_PITCH=2 RVC_UNRELATED=x " + bin + " --config " + q(cfg), &out),
            0)
      << out;
  EXPECT_NE(out.find("pitch = 2 "), std::string::npos) << out;
  EXPECT_NE(out.find("RVC_PITCH"), std::string::npos) << out;
  EXPECT_NE(out.find("index-rate = 0.5"), std::string::npos) << out;
  ASSERT_EQ(test::run_command("RVC_PITCH=2 " + bin + " --config " + q(cfg) + " --pitch 3", &out), 0)
      << out;
  EXPECT_NE(out.find("pitch = 3 "), std::string::npos) << out;
  // Errors: unknown key in the file (file:line: key), malformed known variable.
  std::ofstream(cfg, std::ios::app) << "[convert]\ncolour = blue\n";
  EXPECT_EQ(test::run_command(bin + " --config " + q(cfg), &out, true), 2);
  EXPECT_NE(out.find(cfg.string() + ":9: colour"), std::string::npos) << out;
  EXPECT_EQ(test::run_command("RVC_INDEX_RATE=lots " + bin, &out, true), 2);
  EXPECT_NE(out.find("RVC_INDEX_RATE"), std::string::npos) << out;
}

}  // namespace
}  // namespace rvc
