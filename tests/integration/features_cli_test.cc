// rvc-rt features on every fixture case that names a HuBERT checkpoint and an input wav: the
// output .npy must be [frames, dims] float32 with frames from the conv arithmetic on the 16 kHz
// input and dims from the manifest's model config; plus the one-line errors (exit 2) for a voice
// model / RMVPE checkpoint passed as --hubert, a missing file and unreadable audio.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "rvc/formats/npy.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("rvc_features_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

int features(const std::string& args, std::string* out) {
  return run_command(rvc_rt_bin().string() + " features " + args, out, /*merge_stderr=*/true);
}

using test::q;

const json* model_cfg(const Case& c) {
  const json& p = c.manifest.at("parameters");
  for (const char* k : {"model_cfg", "hubert_cfg"}) {
    if (p.contains(k)) return &p.at(k);
  }
  return nullptr;
}

// Frames of fairseq's conv stack: floor((t - kernel) / stride) + 1 per layer, layers parsed from
// the manifest's conv_feature_layers (the "[(c,k,s)] * n + ..." subset fixtures use).
int64_t expected_frames(const std::string& spec, int64_t n) {
  // spec like "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"
  int64_t t = n;
  size_t pos = 0;
  while ((pos = spec.find('(', pos)) != std::string::npos) {
    int c = 0, k = 0, s = 0;
    std::sscanf(spec.c_str() + pos, "(%d,%d,%d)", &c, &k, &s);
    size_t close = spec.find(']', pos);
    int reps = 1;
    size_t star = spec.find_first_not_of(' ', close + 1);
    if (star != std::string::npos && spec[star] == '*') {
      reps = std::atoi(spec.c_str() + star + 1);
    }
    for (int r = 0; r < reps; ++r) t = (t - k) / s + 1;
    pos = close;
  }
  return t;
}

TEST(FeaturesCli, WritesFramesByDims) {
  const fs::path tmp = temp_dir();
  int checked = 0;
  for (const Case& c : all_cases()) {
    const json& files = c.manifest.value("files", json::object());
    if (!files.contains("hubert") || !files.contains("input_wav")) continue;
    const json* cfg = model_cfg(c);
    if (!cfg) continue;
    SCOPED_TRACE(c.name);
    const fs::path hubert = c.file(files.at("hubert").at("file").get<std::string>());
    const fs::path wav = c.file(files.at("input_wav").at("file").get<std::string>());
    const formats::Audio audio = formats::read_audio_mono(wav.string());
    ASSERT_EQ(audio.sample_rate, 16000) << "fixture input wav is documented as 16 kHz";
    const int64_t frames = expected_frames(cfg->at("conv_feature_layers").get<std::string>(),
                                           static_cast<int64_t>(audio.samples.size()));
    const int64_t e = cfg->at("encoder_embed_dim").get<int64_t>();
    const int64_t fd = cfg->at("final_dim").get<int64_t>();
    struct Run {
      std::string flags;
      int64_t dims;
    };
    for (const Run& r : {Run{"", e}, Run{"--layer 9", fd}, Run{"--layer 9 --no-final-proj", e},
                         Run{"--layer 12 --final-proj --threads 1", fd}}) {
      SCOPED_TRACE(r.flags);
      const fs::path out = tmp / (c.name + ".npy");
      fs::remove(out);
      std::string log;
      ASSERT_EQ(features(q(wav) + " -o " + q(out) + " --hubert " + q(hubert) + " " + r.flags, &log),
                0)
          << log;
      EXPECT_NE(log.find("real-time"), std::string::npos) << log;
      const formats::NpyArray a = formats::read_npy(out.string());
      EXPECT_EQ(a.dtype, "<f4");
      EXPECT_EQ(a.shape, (Shape{frames, r.dims}));
    }
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no fixture case with a hubert and an input wav";
  fs::remove_all(tmp);
}

TEST(FeaturesCli, ResamplesOtherRates) {
  const fs::path tmp = temp_dir();
  for (const Case& c : all_cases()) {
    const json& files = c.manifest.value("files", json::object());
    const json* cfg = model_cfg(c);
    if (!files.contains("hubert") || !files.contains("input_wav") || !cfg) continue;
    SCOPED_TRACE(c.name);
    const fs::path hubert = c.file(files.at("hubert").at("file").get<std::string>());
    const formats::Audio audio = formats::read_audio_mono(
        c.file(files.at("input_wav").at("file").get<std::string>()).string());
    // The same audio at 44.1 kHz, float WAV: features must see it at 16 kHz again.
    const std::vector<float> up = dsp::resample(audio.samples, audio.sample_rate, 44100);
    const fs::path wav = tmp / "in44k.wav";
    formats::write_audio(wav.string(), up.data(), static_cast<int64_t>(up.size()), 44100,
                         formats::SampleFormat::kFloat32);
    const int64_t n16 = static_cast<int64_t>(dsp::resample(up, 44100, 16000).size());
    const fs::path out = tmp / "f44.npy";
    std::string log;
    ASSERT_EQ(features(q(wav) + " -o " + q(out) + " --hubert " + q(hubert), &log), 0) << log;
    const formats::NpyArray a = formats::read_npy(out.string());
    EXPECT_EQ(a.shape,
              (Shape{expected_frames(cfg->at("conv_feature_layers").get<std::string>(), n16),
                     cfg->at("encoder_embed_dim").get<int64_t>()}));
    break;  // one case is enough for the resampling path
  }
  fs::remove_all(tmp);
}

TEST(FeaturesCli, OneLineErrors) {
  const fs::path tmp = temp_dir();
  fs::path hubert, wav, voice, rmvpe;
  for (const Case& c : all_cases()) {
    const json& files = c.manifest.value("files", json::object());
    auto pick = [&](const char* key, fs::path* dst) {
      if (dst->empty() && files.contains(key)) {
        *dst = c.file(files.at(key).at("file").get<std::string>());
      }
    };
    pick("hubert", &hubert);
    pick("input_wav", &wav);
    pick("model", &voice);
    pick("rmvpe", &rmvpe);
  }
  ASSERT_FALSE(hubert.empty());
  ASSERT_FALSE(wav.empty());
  const std::string out = " -o " + q(tmp / "x.npy");
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    std::string log;
    EXPECT_EQ(features(args, &log), 2) << log;
    EXPECT_NE(log.find("rvc-rt: error:"), std::string::npos) << log;
    EXPECT_NE(log.find(needle), std::string::npos) << log;
    // One line.
    EXPECT_EQ(log.find('\n'), log.size() - 1) << log;
  };
  if (!voice.empty()) {
    expect_error(q(wav) + out + " --hubert " + q(voice),
                 "is an RVC voice model, expected a HuBERT checkpoint");
  }
  if (!rmvpe.empty()) {
    expect_error(q(wav) + out + " --hubert " + q(rmvpe), "expected a HuBERT checkpoint");
  }
  expect_error(q(wav) + out + " --hubert " + q(tmp / "missing.pt"), "no such file");
  expect_error(q(tmp / "missing.wav") + out + " --hubert " + q(hubert), "no such audio file");
  const fs::path junk = tmp / "junk.wav";
  std::ofstream(junk) << "this is not audio";
  expect_error(q(junk) + out + " --hubert " + q(hubert), "junk.wav");
  expect_error(q(wav) + " --hubert " + q(hubert), "-o OUT.npy is required");
  EXPECT_FALSE(fs::exists(tmp / "x.npy"));
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace rvc::test
