// models::Hubert on synthetic weights of shapes no fixture has: "layer_norm" extractor mode (and
// "default" mode with a conv bias),
// layer_norm_first (pre-LN) layers, conv bias, no post_extract_proj / final_proj, odd pos-conv
// kernel. Checks the fast kernels against the reference ones on a long (multi-chunk) input,
// that chunked conv features equal those of short windows, the output_layer rules, and that a
// missing or mis-shaped tensor is refused by name.
#include "rvc/models/hubert.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "support/random_weights.h"

namespace rvc::models {
namespace {

formats::HubertInfo pre_ln_info() {
  formats::HubertInfo h;
  h.layers = 3;
  h.embedding_dim = 24;
  h.heads = 3;
  h.ffn_dim = 40;
  h.final_dim = 0;
  h.conv_layers = {{24, 6, 3}, {24, 3, 2}, {24, 2, 2}};  // == embedding_dim: no projection
  h.extractor_mode = "layer_norm";
  h.layer_norm_first = true;
  h.conv_pos = 7;
  h.conv_pos_groups = 4;
  test::RandomWeights g(11);
  int64_t in = 1;
  for (size_t i = 0; i < h.conv_layers.size(); ++i) {
    const auto& l = h.conv_layers[i];
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    g.add(p + ".0.weight", {l.channels, in, l.kernel}, 1.f / std::sqrt(float(in * l.kernel)));
    g.add(p + ".0.bias", {l.channels}, 0.1f);
    g.norm(p + ".2.1", l.channels);
    in = l.channels;
  }
  const int64_t e = h.embedding_dim;
  g.norm("layer_norm", e);
  g.add("encoder.pos_conv.0.weight_g", {1, 1, h.conv_pos}, 0.1f, 1.f);
  g.add("encoder.pos_conv.0.weight_v", {e, e / h.conv_pos_groups, h.conv_pos}, 1.f);
  g.add("encoder.pos_conv.0.bias", {e}, 0.1f);
  g.map["encoder.layer_norm.weight"] = Tensor({e});
  for (int64_t i = 0; i < e; ++i) g.map["encoder.layer_norm.weight"][i] = 1.f;
  g.map["encoder.layer_norm.bias"] = Tensor({e});
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
  h.weights = std::move(g.map);
  return h;
}

std::vector<float> noise(int64_t n) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 0.2f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = d(rng);
  return x;
}

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i) {
    m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return m;
}

TEST(HubertSynthetic, FastMatchesReferenceOnLongInput) {
  const Hubert fast(pre_ln_info(), nn::Backend::kFast);
  const Hubert ref(pre_ln_info(), nn::Backend::kReference);
  EXPECT_EQ(fast.hop_samples(), 12);
  const std::vector<float> x = noise(12 * 2600 + 7);  // 3 conv chunks
  HubertIntermediates a, b;
  const Tensor ya = fast.forward(x.data(), static_cast<int64_t>(x.size()), 0, false, &a);
  const Tensor yb = ref.forward(x.data(), static_cast<int64_t>(x.size()), 0, false, &b);
  EXPECT_EQ(ya.dim(0), fast.frames(static_cast<int64_t>(x.size())));
  EXPECT_LT(max_diff(a.conv_features, b.conv_features), 1e-4);
  EXPECT_LT(max_diff(ya, yb), 2e-4);
}

// The same weights in "default" extractor mode: layer 0's GroupNorm (statistics of each channel
// over all frames) with a conv bias, which no fixture has. The fast backend takes those
// statistics from the input's patch moments, the reference one from the conv's output.
formats::HubertInfo group_norm_info() {
  formats::HubertInfo h = pre_ln_info();
  h.extractor_mode = "default";
  for (size_t i = 0; i < h.conv_layers.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i) + ".2.1.";
    h.weights.erase(p + "weight");
    h.weights.erase(p + "bias");
  }
  test::RandomWeights g(12);
  g.norm("feature_extractor.conv_layers.0.2", h.conv_layers[0].channels);
  for (auto& kv : g.map) h.weights[kv.first] = std::move(kv.second);
  return h;
}

TEST(HubertSynthetic, GroupNormStatisticsFastMatchReference) {
  const Hubert fast(group_norm_info(), nn::Backend::kFast);
  const Hubert ref(group_norm_info(), nn::Backend::kReference);
  std::vector<float> x = noise(12 * 2600 + 7);  // 3 conv chunks
  for (size_t i = 0; i < x.size(); ++i) x[i] += 0.05f + 0.1f * std::sin(0.01f * i);  // DC, drift
  HubertIntermediates a, b;
  const Tensor ya = fast.forward(x.data(), static_cast<int64_t>(x.size()), 0, false, &a);
  const Tensor yb = ref.forward(x.data(), static_cast<int64_t>(x.size()), 0, false, &b);
  EXPECT_LT(max_diff(a.conv_features, b.conv_features), 1e-4);
  EXPECT_LT(max_diff(ya, yb), 2e-4);
}

TEST(HubertSynthetic, ChunkedConvFeaturesEqualShortWindows) {
  // layer_norm mode has no statistics across time, so frame j depends only on its window.
  const Hubert model(pre_ln_info(), nn::Backend::kReference);
  const std::vector<float> x = noise(12 * 2600);
  HubertIntermediates all;
  model.forward(x.data(), static_cast<int64_t>(x.size()), 1, false, &all);
  const int64_t hop = model.hop_samples(), t = all.conv_features.dim(0);
  for (int64_t j0 : {int64_t{0}, int64_t{777}, t - 40}) {
    HubertIntermediates part;
    model.forward(x.data() + j0 * hop, 40 * hop + 64, 1, false, &part);
    const int64_t c = part.conv_features.dim(1);
    for (int64_t i = 0; i < 40 && j0 + i < t; ++i) {
      for (int64_t k = 0; k < c; ++k) {
        ASSERT_NEAR(part.conv_features[i * c + k], all.conv_features[(j0 + i) * c + k], 1e-5)
            << "frame " << j0 + i;
      }
    }
  }
}

TEST(HubertSynthetic, OutputLayerRules) {
  const Hubert model(pre_ln_info(), nn::Backend::kFast);
  const std::vector<float> x = noise(12 * 50);
  const int64_t n = static_cast<int64_t>(x.size());
  HubertIntermediates d;
  const Tensor all = model.forward(x.data(), n, 0, false, &d);
  ASSERT_EQ(d.layers.size(), 3u);
  // Capped at the depth, and (pre-LN) no final layer_norm unless output_layer is "None" (<= 0).
  EXPECT_EQ(max_diff(model.forward(x.data(), n, 99, false), d.layers[2]), 0.0);
  EXPECT_EQ(max_diff(model.forward(x.data(), n, 2, false), d.layers[1]), 0.0);
  const int64_t e = all.dim(1);
  for (int64_t r = 0; r < all.dim(0); ++r) {  // encoder.layer_norm with gamma 1, beta 0
    double mean = 0, var = 0;
    for (int64_t k = 0; k < e; ++k) mean += all[r * e + k];
    mean /= static_cast<double>(e);
    for (int64_t k = 0; k < e; ++k) var += std::pow(all[r * e + k] - mean, 2);
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(var / static_cast<double>(e), 1.0, 1e-3);
  }
  EXPECT_THROW(model.forward(x.data(), n, 3, true), Error);    // no final_proj
  EXPECT_THROW(model.forward(x.data(), 10, 3, false), Error);  // shorter than one frame
}

TEST(HubertSynthetic, RefusesMissingOrMisshapenTensors) {
  for (const char* key : {"encoder.layers.2.fc1.bias", "encoder.pos_conv.0.weight_g",
                          "feature_extractor.conv_layers.1.2.1.weight"}) {
    formats::HubertInfo h = pre_ln_info();
    h.weights.erase(key);
    try {
      Hubert m(std::move(h));
      ADD_FAILURE() << "accepted weights without " << key;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
  formats::HubertInfo h = pre_ln_info();
  h.weights["encoder.layers.1.fc2.weight"] = Tensor({24, 41});
  try {
    Hubert m(std::move(h));
    ADD_FAILURE() << "accepted a mis-shaped fc2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layers.1.fc2.weight"), std::string::npos);
  }
}

}  // namespace
}  // namespace rvc::models
