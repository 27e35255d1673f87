// Hubert::forward with a reusable HubertWorkspace: same values as the allocating forward(),
// no heap allocation by rvc code on a repeated call (same length, or a shorter length that was
// prepared), and clear errors for inputs the workspace was not made for.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"
#include "support/alloc_counter.h"
#include "support/random_weights.h"

namespace rvc::models {
namespace {

// A small fairseq-layout model with GroupNorm extractor, post_extract_proj and final_proj.
formats::HubertInfo small_info() {
  formats::HubertInfo h;
  h.layers = 2;
  h.embedding_dim = 32;
  h.heads = 4;
  h.ffn_dim = 48;
  h.final_dim = 16;
  h.conv_layers = {{24, 10, 5}, {24, 3, 2}, {24, 2, 2}};
  h.conv_pos = 8;
  h.conv_pos_groups = 4;
  test::RandomWeights g(3);
  int64_t in = 1;
  for (size_t i = 0; i < h.conv_layers.size(); ++i) {
    const auto& l = h.conv_layers[i];
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    g.add(p + ".0.weight", {l.channels, in, l.kernel}, 1.f / std::sqrt(float(in * l.kernel)));
    if (i == 0) g.norm(p + ".2", l.channels);
    in = l.channels;
  }
  const int64_t e = h.embedding_dim;
  g.norm("layer_norm", in);
  g.linear("post_extract_proj", e, in);
  g.add("encoder.pos_conv.0.weight_g", {1, 1, h.conv_pos}, 0.1f, 1.f);
  g.add("encoder.pos_conv.0.weight_v", {e, e / h.conv_pos_groups, h.conv_pos}, 1.f);
  g.add("encoder.pos_conv.0.bias", {e}, 0.1f);
  g.norm("encoder.layer_norm", e);
  for (int64_t i = 0; i < h.layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i);
    for (const char* n : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
      g.linear(p + ".self_attn." + n, e, e);
    }
    g.norm(p + ".self_attn_layer_norm", e);
    g.linear(p + ".fc1", h.ffn_dim, e);
    g.linear(p + ".fc2", e, h.ffn_dim);
    g.norm(p + ".final_layer_norm", e);
  }
  g.linear("final_proj", h.final_dim, e);
  h.weights = std::move(g.map);
  return h;
}

std::vector<float> noise(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 0.2f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = d(rng);
  return x;
}

TEST(HubertWorkspace, MatchesTheAllocatingForward) {
  const Hubert m(small_info(), nn::Backend::kFast);
  const int64_t n = 3200;
  const auto wav = noise(n, 1);
  HubertWorkspace ws = m.make_workspace(n);
  for (bool proj : {false, true}) {
    const Tensor want = m.forward(wav.data(), n, 0, proj);
    std::vector<float> got(static_cast<size_t>(want.numel()), -1.f);
    m.forward(wav.data(), n, 0, proj, ws, got.data());
    for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got[static_cast<size_t>(i)], want[i]);
  }
}

TEST(HubertWorkspace, RepeatedCallsDoNotAllocate) {
  const Hubert m(small_info(), nn::Backend::kFast);
  const int64_t n = 4000, shorter = 2400;
  const auto wav = noise(n, 2);
  std::vector<float> out(static_cast<size_t>(m.frames(n) * m.output_dim(false)));
  test::AllocCounter count;
  for (int threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    nn::set_num_threads(threads);
    HubertWorkspace ws = m.make_workspace(n);
    m.prepare(ws, n);
    m.prepare(ws, shorter);
    for (int64_t len : {n, shorter, n}) {
      count.start();
      m.forward(wav.data(), len, 0, false, ws, out.data());
      m.forward(wav.data(), len, 1, true, ws, out.data());
      count.stop();
      EXPECT_EQ(count.outside_dnnl(), 0) << "length " << len << ": " << count.callers();
    }
  }
  nn::set_num_threads(2);
}

TEST(HubertWorkspace, RefusesInputsLongerThanTheWorkspace) {
  const Hubert m(small_info(), nn::Backend::kFast);
  HubertWorkspace ws = m.make_workspace(2000);
  const auto wav = noise(4000, 3);
  std::vector<float> out(static_cast<size_t>(m.frames(4000) * m.output_dim(false)));
  EXPECT_THROW(m.forward(wav.data(), 4000, 0, false, ws, out.data()), Error);
  EXPECT_THROW(m.prepare(ws, 4000), Error);
  HubertWorkspace empty;
  EXPECT_THROW(m.forward(wav.data(), 2000, 0, false, empty, out.data()), Error);
  EXPECT_THROW(m.make_workspace(10), Error);
}

// bf16 rounds weights and inputs of the projections, FFN and positional conv to 8 bits of
// mantissa: the features must stay within a few per cent (relative L2) of float32.
TEST(HubertBf16, StaysCloseToFloat32) {
  if (!nn::bf16_supported()) GTEST_SKIP() << "this CPU has no native bf16 (AVX512-BF16)";
  const Hubert f32(small_info(), nn::Backend::kFast);
  nn::set_default_precision(nn::Precision::kBf16);
  const Hubert bf16(small_info(), nn::Backend::kFast);
  nn::set_default_precision(nn::Precision::kF32);
  const int64_t n = 8000;
  const auto wav = noise(n, 4);
  for (bool proj : {false, true}) {
    const Tensor a = f32.forward(wav.data(), n, 0, proj);
    const Tensor b = bf16.forward(wav.data(), n, 0, proj);
    ASSERT_EQ(a.shape(), b.shape());
    double num = 0, den = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
      den += double(a[i]) * a[i];
    }
    EXPECT_LT(std::sqrt(num / den), 3e-2) << "final_proj " << proj;
    EXPECT_GT(num, 0.0) << "bf16 path not taken";
  }
}

}  // namespace
}  // namespace rvc::models
