// The pipeline runs HuBERT and the synthesizer through workspaces it keeps between chunks and
// calls. Reuse must not change a bit: every chunk's HuBERT output and synthesizer audio equal the
// models' allocating forms on the same inputs (a shorter chunk after a longer one reads buffers
// that still hold the longer one's data), and a call gives the same output on a fresh Pipeline,
// on one that already ran longer or shorter inputs, after release_scratch(), and from two threads
// at once.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rvc/nn/backend.h"
#include "rvc/pipeline/pipeline.h"
#include "support/fixtures.h"
#include "support/voice_fixture.h"

namespace rvc::pipeline {
namespace {

constexpr int kSr = 16000;

std::shared_ptr<const VoiceModels> fixture_models() {
  const auto cases = test::cases_of_kind("pipeline");
  if (cases.empty()) return nullptr;
  const test::Case& c = cases.front();
  VoiceModelPaths paths = test::voice_paths(c);
  return VoiceModels::load(paths);
}

// A voice with a gliding pitch and silent gaps near every cut position, plus noise.
std::vector<float> voice(double seconds, uint32_t seed) {
  const auto n = static_cast<int64_t>(seconds * kSr);
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kSr;
    const double f0 = 130.0 + 40.0 * std::sin(2 * M_PI * 0.4 * t);
    const bool gap = std::fmod(t, 3.0) > 2.7;
    const double v =
        gap ? 0.0 : 0.3 * std::sin(2 * M_PI * f0 * t) + 0.1 * std::sin(4 * M_PI * f0 * t);
    x[static_cast<size_t>(i)] = static_cast<float>(v) + noise(rng);
  }
  return x;
}

// Small chunks so that a few seconds are split: cuts every ~3 s, chunks of 2 s padding.
ConvertParams split_params(bool has_f0) {
  ConvertParams p;
  p.f0_method = F0Method::kYin;
  p.chunk.x_pad = 1;
  p.chunk.x_query = 1;
  p.chunk.x_center = 3;
  p.chunk.x_max = 4;
  p.noise = true;  // the synthesizer's seeded noise draws are part of what must repeat
  p.seed = 7;
  p.protect = has_f0 ? 0.33f : 0.5f;
  return p;
}

// What the observer saw of one chunk.
struct ChunkSeen {
  std::vector<float> hubert_source, hubert_out, feats, pitchf, audio;
  std::vector<int64_t> pitch;
  int64_t frames = 0, dim = 0, t = 0;
};

ConvertHooks recorder(std::map<int, ChunkSeen>& seen) {
  ConvertHooks hooks;
  hooks.observer = [&seen](const Observed& o) {
    const std::string name(o.name);
    const bool chunk_step = name.rfind("infer_", 0) == 0 || name.rfind("hubert_", 0) == 0;
    const size_t us = name.rfind('_');
    if (!chunk_step || us == std::string::npos) return;
    const std::string stem = name.substr(0, us), idx = name.substr(us + 1);
    if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) return;
    ChunkSeen& c = seen[std::stoi(idx)];
    const auto n = static_cast<size_t>(shape_numel(o.shape));
    if (stem == "hubert_source") c.hubert_source.assign(o.f32, o.f32 + n);
    if (stem == "hubert_out") {
      c.hubert_out.assign(o.f32, o.f32 + n);
      c.t = o.shape[1];
    }
    if (stem == "infer_feats") {
      c.feats.assign(o.f32, o.f32 + n);
      c.frames = o.shape[1];
      c.dim = o.shape[2];
    }
    if (stem == "infer_pitch") c.pitch.assign(o.i64, o.i64 + n);
    if (stem == "infer_pitchf") c.pitchf.assign(o.f32, o.f32 + n);
    if (stem == "infer_audio") c.audio.assign(o.f32, o.f32 + n);
  };
  return hooks;
}

bool same_bits(const std::vector<float>& a, const float* b, size_t n) {
  return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n * sizeof(float)) == 0);
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return same_bits(a, b.data(), b.size());
}

TEST(PipelineWorkspace, ChunksMatchTheAllocatingModelCalls) {
  nn::set_num_threads(1);
  const auto models = fixture_models();
  ASSERT_TRUE(models) << "no fixture case of kind pipeline";
  const ConvertParams p = split_params(models->has_f0());
  const std::vector<float> audio = voice(8.5, 1);
  const Pipeline pipe(models);
  std::map<int, ChunkSeen> seen;
  const ConvertResult r = pipe.convert(audio, p, recorder(seen));
  ASSERT_GE(r.chunks.lengths.size(), 3u);
  ASSERT_EQ(seen.size(), r.chunks.lengths.size());
  // The last chunk is the shortest: it runs on buffers the longer ones filled.
  EXPECT_LT(r.chunks.lengths.back(), r.chunks.lengths.front());

  const auto& synth = models->synthesizer();
  for (const auto& [k, c] : seen) {
    SCOPED_TRACE("chunk " + std::to_string(k));
    const auto len = static_cast<int64_t>(c.hubert_source.size());
    ASSERT_EQ(len, r.chunks.lengths[static_cast<size_t>(k)]);
    const Tensor h = models->hubert().forward(
        c.hubert_source.data(), len, models->hubert_output_layer(), models->hubert_final_proj());
    EXPECT_TRUE(same_bits(c.hubert_out, h.data(), static_cast<size_t>(h.numel())))
        << "HuBERT through the workspace differs from Hubert::forward";

    const Tensor feats({c.frames, c.dim}, c.feats.data());
    models::SynthesizerRequest rq;
    rq.phone = &feats;
    rq.pitch = models->has_f0() ? c.pitch.data() : nullptr;
    rq.pitchf = models->has_f0() ? c.pitchf.data() : nullptr;
    rq.phone_length = c.frames;
    rq.sid = p.sid;
    rq.noise = p.noise;
    rq.seed = p.seed + static_cast<uint64_t>(k);
    const Tensor want = synth.infer(rq).audio;
    EXPECT_TRUE(same_bits(c.audio, want.data(), static_cast<size_t>(want.numel())))
        << "synthesizer through the workspace differs from Synthesizer::infer(request)";
  }
}

TEST(PipelineWorkspace, ReuseOrderReleaseAndThreadsGiveTheSameOutput) {
  nn::set_num_threads(1);
  const auto models = fixture_models();
  ASSERT_TRUE(models) << "no fixture case of kind pipeline";
  const ConvertParams p = split_params(models->has_f0());
  const std::vector<float> longer = voice(8.5, 2), shorter = voice(5.2, 3);

  // References: each input on a fresh Pipeline.
  const std::vector<float> ref_long = Pipeline(models).convert(longer, p).audio;
  const std::vector<float> ref_short = Pipeline(models).convert(shorter, p).audio;
  ASSERT_FALSE(ref_long.empty());
  ASSERT_FALSE(ref_short.empty());

  // Long, long again, short (buffers larger than needed), long; and short first then long
  // (buffers that must grow).
  const Pipeline a(models);
  EXPECT_TRUE(same_bits(a.convert(longer, p).audio, ref_long)) << "first call";
  EXPECT_TRUE(same_bits(a.convert(longer, p).audio, ref_long)) << "repeated call";
  EXPECT_TRUE(same_bits(a.convert(shorter, p).audio, ref_short)) << "shorter after longer";
  const Pipeline copy = a;  // shares the idle workspaces
  EXPECT_TRUE(same_bits(copy.convert(longer, p).audio, ref_long)) << "copy";
  a.release_scratch();
  EXPECT_TRUE(same_bits(a.convert(longer, p).audio, ref_long)) << "after release_scratch";
  const Pipeline b(models);
  EXPECT_TRUE(same_bits(b.convert(shorter, p).audio, ref_short)) << "short on a fresh pipeline";
  EXPECT_TRUE(same_bits(b.convert(longer, p).audio, ref_long)) << "longer after shorter";

  // Two calls at once: one takes the idle workspaces, the other makes its own.
  std::vector<float> out_long, out_short;
  std::thread t1([&] { out_long = a.convert(longer, p).audio; });
  std::thread t2([&] { out_short = a.convert(shorter, p).audio; });
  t1.join();
  t2.join();
  EXPECT_TRUE(same_bits(out_long, ref_long)) << "concurrent long";
  EXPECT_TRUE(same_bits(out_short, ref_short)) << "concurrent short";
  EXPECT_TRUE(same_bits(a.convert(shorter, p).audio, ref_short)) << "after the concurrent calls";
}

}  // namespace
}  // namespace rvc::pipeline
