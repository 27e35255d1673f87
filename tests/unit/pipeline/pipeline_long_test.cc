// A 100 s synthetic input through the whole Pipeline with the fixture models of the first
// pipeline case: it must be split into several chunks at the quiet spots near every x_center
// seconds, every chunk must be synthesised, and the output length must be the sum of the trimmed
// chunk outputs (which is also close to the input duration at the model rate).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/pipeline.h"
#include "support/fixtures.h"
#include "support/voice_fixture.h"

namespace rvc::pipeline {
namespace {

TEST(PipelineLong, HundredSecondsIsSplitAtQuietPoints) {
  nn::set_num_threads(1);  // the test machine is shared; keeps OpenMP from spinning
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
  const test::Case& c = cases.front();
  VoiceModelPaths paths = test::voice_paths(c);
  const auto models = VoiceModels::load(paths);

  constexpr int kSr = 16000;
  const int64_t n = int64_t{kSr} * 100;
  std::vector<float> audio(static_cast<size_t>(n));
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kSr;
    const double f0 = 140.0 + 30.0 * std::sin(2 * M_PI * 0.3 * t);
    audio[static_cast<size_t>(i)] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * f0 * t) + 0.1 * std::sin(4 * M_PI * f0 * t)) +
        noise(rng);
  }
  // Silent gaps within +-x_query of each multiple of x_center.
  const ChunkConfig cfg;  // upstream's CPU values
  std::vector<int64_t> gaps;
  for (int64_t t = int64_t{kSr} * cfg.x_center; t < n; t += int64_t{kSr} * cfg.x_center) {
    gaps.push_back(t - int64_t{kSr} * cfg.x_query / 2);
  }
  const int64_t gap_len = kSr / 2;
  for (const int64_t g : gaps) {
    for (int64_t i = g; i < g + gap_len; ++i) audio[static_cast<size_t>(i)] = 0.0f;
  }

  ConvertParams p;
  p.f0_method = F0Method::kYin;
  p.noise = false;
  p.chunk = cfg;
  std::map<std::string, int64_t> synth_len;
  ConvertHooks hooks;
  hooks.observer = [&](const Observed& o) {
    const std::string name(o.name);
    if (name.rfind("infer_audio_", 0) == 0) synth_len[name] = o.shape.back();
  };
  const Pipeline pipe(models);
  const ConvertResult r = pipe.convert(audio, p, hooks);

  ASSERT_EQ(r.chunks.cuts.size(), gaps.size());
  ASSERT_GE(r.chunks.starts.size(), 3u);
  for (size_t k = 0; k < gaps.size(); ++k) {
    EXPECT_GE(r.chunks.cuts[k], gaps[k] - 160) << "cut " << k;
    EXPECT_LE(r.chunks.cuts[k], gaps[k] + gap_len) << "cut " << k;
  }
  ASSERT_EQ(synth_len.size(), r.chunks.starts.size());
  // Output = concatenation of each chunk's synthesizer output minus t_pad_tgt on both sides.
  const int64_t t_pad_tgt = int64_t{models->sample_rate_hz()} * cfg.x_pad;
  const int64_t upp = models->synthesizer().config().samples_per_frame();
  int64_t want = 0;
  for (size_t k = 0; k < r.chunks.starts.size(); ++k) {
    const int64_t len = r.chunks.lengths[k];
    const int64_t frames = std::min(2 * models->hubert().frames(len), len / 160);
    EXPECT_EQ(synth_len.at("infer_audio_" + std::to_string(k)), frames * upp) << k;
    want += frames * upp - 2 * t_pad_tgt;
  }
  EXPECT_EQ(static_cast<int64_t>(r.audio.size()), want);
  EXPECT_EQ(r.pcm16.size(), r.audio.size());
  EXPECT_EQ(r.sample_rate_hz, models->sample_rate_hz());
  // Each chunk loses at most a few frames to HuBERT's framing.
  const double expected = static_cast<double>(n) * models->sample_rate_hz() / kSr;
  EXPECT_NEAR(static_cast<double>(want), expected,
              static_cast<double>(r.chunks.starts.size()) * 4 * upp);
}

std::shared_ptr<const VoiceModels> fixture_models() {
  const auto cases = test::cases_of_kind("pipeline");
  if (cases.empty()) return nullptr;
  const auto& files = cases.front().manifest.at("files");
  VoiceModelPaths paths;
  paths.voice = cases.front().file(files.at("model").at("file")).string();
  paths.hubert = cases.front().file(files.at("hubert").at("file")).string();
  return VoiceModels::load(paths);  // no index, no RMVPE
}

TEST(PipelineShort, ResampleSeedsAndErrors) {
  nn::set_num_threads(1);
  const auto models = fixture_models();
  ASSERT_TRUE(models) << "no fixture case of kind pipeline";
  const Pipeline pipe(models);
  std::vector<float> audio(16000 * 2);
  for (size_t i = 0; i < audio.size(); ++i) {
    audio[i] = 0.4f * static_cast<float>(std::sin(2 * M_PI * 180.0 * i / 16000.0));
  }
  ConvertParams p;
  p.f0_method = F0Method::kCurve;
  p.f0_curve.assign(audio.size() / 160 + 2 * 100 + 1, 180.0);
  p.rms_mix_rate = 1.0;
  const ConvertResult base = pipe.convert(audio, p);
  EXPECT_EQ(base.sample_rate_hz, models->sample_rate_hz());
  const int other = models->sample_rate_hz() == 48000 ? 32000 : 48000;
  p.resample_sr = other;
  const ConvertResult rs = pipe.convert(audio, p);
  EXPECT_EQ(rs.sample_rate_hz, other);
  EXPECT_EQ(static_cast<int64_t>(rs.audio.size()),
            static_cast<int64_t>(std::ceil(static_cast<double>(base.audio.size()) * other /
                                           models->sample_rate_hz())));
  // Seeded noise: same seed, same output; another seed, another output.
  p.resample_sr = 0;
  p.seed = 5;
  EXPECT_EQ(pipe.convert(audio, p).pcm16, pipe.convert(audio, p).pcm16);
  ConvertParams q = p;
  q.seed = 6;
  EXPECT_NE(pipe.convert(audio, p).pcm16, pipe.convert(audio, q).pcm16);
  // Errors name what is wrong.
  ConvertParams bad = p;
  bad.sid = 1000;
  EXPECT_THROW(pipe.convert(audio, bad), Error);
  bad = p;
  bad.f0_method = F0Method::kRmvpe;
  try {
    pipe.convert(audio, bad);
    ADD_FAILURE() << "rmvpe without a model must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rmvpe.pt"), std::string::npos) << e.what();
  }
  bad = p;
  bad.f0_curve.resize(10);
  EXPECT_THROW(pipe.convert(audio, bad), Error);
  EXPECT_THROW(pipe.convert(std::vector<float>(5, 0.1f), p), Error);
}

// Upstream f0_file rows replace the shifted F0 from frame x_pad*100 on with np.interp over the
// frame numbers 0 .. round(span*100) (unshifted values, absolute times*100 as x).
TEST(PipelineShort, F0OverridesReplaceFramesLikeUpstream) {
  nn::set_num_threads(1);
  const auto models = fixture_models();
  ASSERT_TRUE(models) << "no fixture case of kind pipeline";
  if (!models->has_f0()) GTEST_SKIP() << "fixture voice has no f0";
  std::vector<float> audio(16000, 0.1f);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] *= static_cast<float>(std::sin(0.05 * i));
  ConvertParams p;
  p.f0_method = F0Method::kCurve;
  p.f0_curve.assign(audio.size() / 160 + 201, 100.0);
  p.f0_up_key = 12;  // the curve is shifted, the overrides are not
  p.f0_overrides = {{0.0, 200.0}, {0.5, 300.0}};
  std::vector<float> pitchf;
  ConvertHooks hooks;
  hooks.observer = [&](const Observed& o) {
    if (o.name == "infer_pitchf_0") pitchf.assign(o.f32, o.f32 + shape_numel(o.shape));
  };
  Pipeline(models).convert(audio, p, hooks);
  ASSERT_GT(pitchf.size(), 160u);
  const size_t at = 100 * static_cast<size_t>(p.chunk.x_pad);
  EXPECT_FLOAT_EQ(pitchf[at - 1], 200.0f);  // 100 Hz shifted by an octave
  for (size_t i = 0; i <= 50; ++i) EXPECT_FLOAT_EQ(pitchf[at + i], 200.0f + 2.0f * i) << i;
  EXPECT_FLOAT_EQ(pitchf[at + 51], 200.0f);
}

// Every synthesizer fixture voice (v1 with final_proj + layer 9, no-f0, other rates) whose feature
// width the pipeline case's HuBERT can feed, with RMVPE F0 from the rmvpe fixture when there is
// one (else YIN): each converts and gives the expected length at its own rate.
TEST(PipelineShort, EveryFixtureVoiceConverts) {
  nn::set_num_threads(1);
  const auto pipes = test::cases_of_kind("pipeline");
  ASSERT_FALSE(pipes.empty()) << "no fixture case of kind pipeline";
  const std::string hubert =
      pipes.front().file(pipes.front().manifest.at("files").at("hubert").at("file")).string();
  std::string rmvpe;
  for (const auto& c : test::cases_of_kind("rmvpe")) {
    rmvpe = c.file(c.manifest.at("files").at("rmvpe").at("file")).string();
  }
  std::vector<float> audio(16000 * 3 / 2);
  for (size_t i = 0; i < audio.size(); ++i) {
    audio[i] = 0.5f * static_cast<float>(std::sin(2 * M_PI * 150.0 * i / 16000.0));
  }
  int converted = 0;
  for (const auto& c : test::cases_of_kind("synthesizer")) {
    SCOPED_TRACE(c.name);
    VoiceModelPaths paths;
    paths.voice = c.file(c.manifest.at("files").at("model").at("file")).string();
    paths.hubert = hubert;
    paths.rmvpe = rmvpe;
    std::shared_ptr<const VoiceModels> m;
    try {
      m = VoiceModels::load(paths);
    } catch (const Error& e) {
      // Only a feature-width mismatch with this HuBERT is a reason to skip.
      ASSERT_NE(std::string(e.what()).find("-d"), std::string::npos) << e.what();
      std::cout << c.name << ": skipped (" << e.what() << ")\n";
      continue;
    }
    ConvertParams p;
    p.f0_method = rmvpe.empty() ? F0Method::kYin : F0Method::kRmvpe;
    p.f0_up_key = -2;
    std::vector<std::string> names;
    ConvertHooks hooks;
    hooks.observer = [&](const Observed& o) { names.emplace_back(o.name); };
    const ConvertResult r = Pipeline(m).convert(audio, p, hooks);
    const int64_t len = static_cast<int64_t>(audio.size()) + 2 * 16000;
    const int64_t frames = std::min(2 * m->hubert().frames(len), len / 160);
    const int64_t upp = m->synthesizer().config().samples_per_frame();
    EXPECT_EQ(static_cast<int64_t>(r.audio.size()), frames * upp - 2 * m->sample_rate_hz());
    const bool has_pitch = std::find(names.begin(), names.end(), "infer_pitchf_0") != names.end();
    EXPECT_EQ(has_pitch, m->has_f0());
    std::cout << c.name << ": " << (m->has_f0() ? "f0" : "no f0") << ", " << r.audio.size()
              << " samples at " << r.sample_rate_hz << " Hz\n";
    ++converted;
  }
  EXPECT_GT(converted, 0);
}

}  // namespace
}  // namespace rvc::pipeline
