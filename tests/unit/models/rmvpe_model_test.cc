// RMVPE with synthetic weights of shapes other than the fixture's: the architecture must follow
// the hyper-parameters (blocks, depth, widths, GRU layers) and refuse inconsistent weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>

#include "rvc/core/error.h"
#include "rvc/models/rmvpe.h"
#include "rvc/nn/backend.h"
#include "support/random_weights.h"

namespace rvc::models {
namespace {

struct Gen : test::RandomWeights {
  Gen() : RandomWeights(42) {}
  void block(const std::string& p, int64_t cin, int64_t cout) {
    add(p + ".conv.0.weight", {cout, cin, 3, 3}, 0.3f);
    batch_norm(p + ".conv.1", cout);
    add(p + ".conv.3.weight", {cout, cout, 3, 3}, 0.3f);
    batch_norm(p + ".conv.4", cout);
    if (cin != cout) {
      add(p + ".shortcut.weight", {cout, cin, 1, 1}, 0.3f);
      add(p + ".shortcut.bias", {cout}, 0.1f);
    }
  }
};

formats::RmvpeInfo make_info(int64_t n_blocks, int64_t layers, int64_t inter, int64_t en_out,
                             int64_t n_gru, int64_t hidden, int64_t classes, bool halves = false) {
  Gen g;
  g.batch_norm("unet.encoder.bn", 1);
  int64_t cin = 1, cout = en_out;
  for (int64_t i = 0; i < layers; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.encoder.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              j == 0 ? cin : cout, cout);
    }
    cin = cout;
    cout *= 2;
  }
  for (int64_t i = 0; i < inter; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.intermediate.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              (i == 0 && j == 0) ? cout / 2 : cout, cout);
    }
  }
  int64_t ch = cout;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "unet.decoder.layers." + std::to_string(i);
    g.add(p + ".conv1.0.weight", {ch, ch / 2, 3, 3}, 0.3f);
    g.batch_norm(p + ".conv1.1", ch / 2);
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block(p + ".conv2." + std::to_string(j), j == 0 ? ch : ch / 2, ch / 2);
    }
    ch /= 2;
  }
  g.add("cnn.weight", {3, en_out, 3, 3}, 0.3f);
  g.add("cnn.bias", {3}, 0.1f);
  for (int64_t l = 0; l < n_gru; ++l) {
    for (const char* s : {"", "_reverse"}) {
      const std::string k = std::to_string(l) + s;
      g.add("fc.0.gru.weight_ih_l" + k, {3 * hidden, l == 0 ? 3 * 128 : 2 * hidden}, 0.1f);
      g.add("fc.0.gru.weight_hh_l" + k, {3 * hidden, hidden}, 0.1f);
      g.add("fc.0.gru.bias_ih_l" + k, {3 * hidden}, 0.1f);
      g.add("fc.0.gru.bias_hh_l" + k, {3 * hidden}, 0.1f);
    }
  }
  g.add("fc.1.weight", {classes, 2 * hidden}, 0.3f);
  g.add("fc.1.bias", {classes}, 0.1f);
  if (halves) g.round_to_halves();
  formats::RmvpeInfo info;
  info.n_blocks = n_blocks;
  info.en_de_layers = layers;
  info.inter_layers = inter;
  info.en_out_channels = en_out;
  info.in_channels = 1;
  info.n_gru = n_gru;
  info.n_mels = 128;
  info.n_classes = classes;
  info.weights = std::move(g.map);
  return info;
}

Tensor random_mel(int64_t frames) {
  Tensor mel({128, frames});
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-11.5f, 1.f);
  for (int64_t i = 0; i < mel.numel(); ++i) mel[i] = u(rng);
  return mel;
}

// The same weights on the reference backend.
std::unique_ptr<Rmvpe> reference_of(const formats::RmvpeInfo& info) {
  nn::set_default_backend(nn::Backend::kReference);
  auto ref = std::make_unique<Rmvpe>(info);
  nn::set_default_backend(nn::Backend::kFast);
  return ref;
}

// Largest |a - b| over the salience of mel from both models (same shape asserted).
double worst_salience_diff(const Rmvpe& a, const Rmvpe& b, const Tensor& mel) {
  const Tensor x = a.salience(mel), y = b.salience(mel);
  EXPECT_EQ(x.shape(), y.shape());
  if (x.shape() != y.shape()) return 1e9;
  double worst = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
  return worst;
}

TEST(RmvpeModel, OtherShapesRunAndCropToTheInput) {
  const Rmvpe model(make_info(/*n_blocks=*/2, /*layers=*/3, /*inter=*/2, /*en_out=*/3,
                              /*n_gru=*/2, /*hidden=*/8, /*classes=*/360));
  EXPECT_EQ(model.hparams().en_de_layers, 3);
  for (int64_t frames : {1, 8, 21}) {  // padded to multiples of 2^3 inside
    const Tensor s = model.salience(random_mel(frames));
    ASSERT_EQ(s.shape(), (Shape{frames, 360}));
    for (int64_t i = 0; i < s.numel(); ++i) {
      ASSERT_TRUE(s[i] > 0.f && s[i] < 1.f) << i;
    }
  }
  const Tensor a = model.salience(random_mel(21));
  const Tensor b = model.salience(random_mel(21));
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]);
  std::vector<float> audio(3200, 0.f);
  EXPECT_EQ(model.infer_f0(audio.data(), 3200).size(), 21u);
}

// Levels of 64 and 128 channels on 128+ pixels run their blocks in the blocked layout
// (Winograd convs), switching layout inside a level whose first block has 32 inputs: the whole
// network must still match the reference backend.
TEST(RmvpeModel, FastMatchesReferenceThroughBlockedLevels) {
  const formats::RmvpeInfo info = make_info(/*n_blocks=*/2, /*layers=*/3, /*inter=*/1,
                                            /*en_out=*/16, /*n_gru=*/1, /*hidden=*/8,
                                            /*classes=*/360);
  const Rmvpe fast(info);
  const auto ref = reference_of(info);
  // Padded to 64 frames: the 64-channel level is 16 x 32. The fixtures' salience tolerance is
  // 1e-4.
  EXPECT_LT(worst_salience_diff(fast, *ref, random_mel(61)), 1e-5);
}

// A checkpoint's half weights: at 2^levels padded frames (a stream block's window) the
// intermediate maps are one row high and their convs run as half-weight row products. The whole
// network must match the reference backend there, and at a longer input (taller maps, the usual
// convs) too; f32 weights that are not halves keep the usual convs.
TEST(RmvpeModel, HalfWeightRowConvsMatchReference) {
  const formats::RmvpeInfo info = make_info(/*n_blocks=*/2, /*layers=*/3, /*inter=*/2,
                                            /*en_out=*/8, /*n_gru=*/1, /*hidden=*/8,
                                            /*classes=*/360, /*halves=*/true);
  const Rmvpe fast(info);
  const auto ref = reference_of(info);
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(fast.half_row_convs(), 2 * 2 * 2);  // 2 levels x 2 blocks x 2 convs
  }
  EXPECT_EQ(ref->half_row_convs(), 0);
  for (const int64_t frames : {5, 8, 30}) {  // padded to 8 (one-row maps), 8, 32 (4 rows)
    EXPECT_LT(worst_salience_diff(fast, *ref, random_mel(frames)), 1e-5) << frames << " frames";
  }
  EXPECT_EQ(Rmvpe(make_info(2, 3, 2, 8, 1, 8, 360)).half_row_convs(), 0);
}

TEST(RmvpeModel, RefusesInconsistentWeights) {
  auto missing = make_info(1, 2, 1, 2, 1, 4, 360);
  missing.weights.erase("cnn.bias");
  try {
    Rmvpe m(std::move(missing));
    FAIL() << "expected rvc::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cnn.bias"), std::string::npos) << e.what();
  }
  auto wrong = make_info(1, 2, 1, 2, 1, 4, 360);
  wrong.weights["unet.decoder.layers.0.conv1.0.weight"] = Tensor({8, 3, 3, 3});
  EXPECT_THROW(Rmvpe(std::move(wrong)), Error);
  auto bad_depth = make_info(1, 2, 1, 2, 1, 4, 360);
  bad_depth.en_de_layers = 3;  // weights only hold two encoder layers
  EXPECT_THROW(Rmvpe(std::move(bad_depth)), Error);
  const Rmvpe ok(make_info(1, 2, 1, 2, 1, 4, 360));
  EXPECT_THROW(ok.salience(Tensor({64, 10})), Error);  // wrong mel height
}

}  // namespace
}  // namespace rvc::models
