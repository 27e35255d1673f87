// The RVC backend of Stream on every fixture pipeline case (tiny real-format models): blocks of
// a real recording at a 48 kHz device rate come out finite, audible and of the right length,
// SOLA offsets stay in the search window, the latency adds the SOLA windows and the resampler,
// and pitch / formant / index / rms-mix changes between blocks run. (No upstream realtime
// golden output exists yet: upstream's rtrvc needs a GPU GUI session to record one.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "rvc/pipeline/stream.h"
#include "rvc/pipeline/voice_models.h"
#include "support/fixtures.h"
#include "support/voice_fixture.h"

namespace rvc::pipeline {
namespace {

TEST(StreamRvc, EveryPipelineCaseStreamsBlocks) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty());
  const auto rmvpe_cases = test::cases_of_kind("rmvpe");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& files = c.manifest.at("files");
    if (!files.contains("input_wav")) continue;
    VoiceModelPaths paths = test::voice_paths(c);
    if (!rmvpe_cases.empty()) {
      paths.rmvpe =
          rmvpe_cases[0].file(rmvpe_cases[0].manifest.at("files").at("rmvpe").at("file")).string();
    }
    const auto models = VoiceModels::load(paths);
    const formats::Audio in = formats::read_audio_mono(c.file(files.at("input_wav").at("file")));
    const std::vector<float> x = dsp::resample(in.samples, in.sample_rate, 48000);

    StreamConfig cfg;
    cfg.sample_rate = 48000;
    cfg.block_ms = 100;
    cfg.extra_ms = 500;
    cfg.f0_method = models->has_rmvpe() ? "rmvpe" : "yin";
    Stream s(cfg, make_rvc_backend(models));
    const StreamLatency lat = s.latency();
    EXPECT_EQ(lat.block, 4800);
    EXPECT_EQ(lat.crossfade, 1920);
    EXPECT_EQ(lat.search, 480);
    EXPECT_GE(lat.backend, 0);
    const int64_t b = s.block_frames();
    std::vector<float> y(static_cast<size_t>(b));
    double energy = 0.0;
    int64_t n = 0, bad = 0, bad_offset = 0;
    StreamParams p = cfg.params;
    // 8 blocks (0.8 s) keep the test quick; parameters change from block 4 on.
    for (int64_t i = 0, k = 0; k < 8 && i + b <= static_cast<int64_t>(x.size()); i += b, ++k) {
      if (k == 4) {
        p.pitch_semitones = 4;
        p.formant_semitones = 2;
        p.index_rate = 0.5;
        p.rms_mix = 0.5;
        s.set_params(p);
      }
      s.process(x.data() + i, y.data());
      if (s.last_sola_offset() < 0 || s.last_sola_offset() > lat.search) ++bad_offset;
      for (float v : y) {
        if (!std::isfinite(v) || std::abs(v) > 1.0f) ++bad;
        if (k >= 2) energy += double(v) * v, ++n;
      }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(bad_offset, 0);
    ASSERT_GT(n, 0);
    EXPECT_GT(std::sqrt(energy / double(n)), 1e-4) << "the voice is audible";
  }
}

TEST(StreamRvc, RefusesRatesAndF0MethodsItCannotServe) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[0];
  VoiceModelPaths paths;
  paths.voice = c.file(c.manifest.at("files").at("model").at("file")).string();
  paths.hubert = c.file(c.manifest.at("files").at("hubert").at("file")).string();
  const auto models = VoiceModels::load(paths);
  StreamConfig cfg;
  cfg.sample_rate = 22050;  // not a multiple of 100 Hz
  cfg.f0_method = "yin";
  EXPECT_THROW(Stream(cfg, make_rvc_backend(models)), Error);
  cfg.sample_rate = 48000;
  cfg.f0_method = "rmvpe";  // no rmvpe model loaded
  if (models->has_f0()) {
    EXPECT_THROW(Stream(cfg, make_rvc_backend(models)), Error);
  }
  EXPECT_THROW(make_rvc_backend(nullptr), Error);
}

}  // namespace
}  // namespace rvc::pipeline
