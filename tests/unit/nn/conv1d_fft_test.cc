// Conv1d's DFT path (small-tile overlap-save, src/nn/conv1d_fft.cc) against the reference loops:
// the kernel sizes, dilations and paddings of HiFi-GAN's resblocks and WaveNet layers and odd
// ones, lengths from shorter than one tile to several matrix-product chunks, every epilogue,
// and planned calls.
#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

#include "nn_test_util.h"
#include "rvc/core/error.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;

struct Case {
  int64_t cin, cout, k, dil, pl, pr, t_in;
};

// These tests hold the DFT algorithm itself to the reference on short inputs too, so short
// calls take it here; ShortCallsRunDirect checks the default, where they run direct.
class ShortLimit {
 public:
  explicit ShortLimit(int64_t v) { set_conv1d_fft_short_limit(v); }
  ~ShortLimit() { set_conv1d_fft_short_limit(0); }
};
const ShortLimit kDftOnShortInputs(0);

Conv1dParams params_of(const Case& c) {
  Conv1dParams p{c.cin, c.cout, c.k};
  p.dilation = c.dil;
  p.pad_left = c.pl;
  p.pad_right = c.pr;
  return p;
}

TEST(Conv1dFftTest, ChosenOnlyWhereItApplies) {
  std::mt19937 rng(1);
  const auto make = [&](Conv1dParams p) {
    Tensor w = random_tensor({p.out_channels, p.in_channels / p.groups, p.kernel}, rng);
    return Conv1d(p, w, nullptr, Backend::kFast);
  };
  EXPECT_TRUE(make(Conv1dParams{64, 64, 7}).uses_fft());
  EXPECT_TRUE(make(Conv1dParams{128, 128, 11}).uses_fft());
  EXPECT_TRUE(make(Conv1dParams{64, 256, 5}).uses_fft());
  EXPECT_TRUE(make(Conv1dParams{256, 256, 11}).uses_fft());
  EXPECT_FALSE(make(Conv1dParams{256, 512, 11}).uses_fft());  // spectra would take 24 MiB
  EXPECT_FALSE(make(Conv1dParams{192, 384, 5}).uses_fft());
  EXPECT_FALSE(make(Conv1dParams{64, 64, 3}).uses_fft());   // few taps: direct is cheaper
  EXPECT_TRUE(make(Conv1dParams{128, 128, 3}).uses_fft());  // unless channels are many
  EXPECT_TRUE(make(Conv1dParams{32, 32, 11}).uses_fft());   // HiFi-GAN's last stage
  EXPECT_FALSE(make(Conv1dParams{16, 16, 7}).uses_fft());   // few channels
  EXPECT_FALSE(make(Conv1dParams{72, 64, 7}).uses_fft());   // not a multiple of 16
  Conv1dParams strided{64, 64, 7};
  strided.stride = 2;
  EXPECT_FALSE(make(strided).uses_fft());
  Conv1dParams grouped{64, 64, 7};
  grouped.groups = 2;
  EXPECT_FALSE(make(grouped).uses_fft());
  set_conv1d_fft(false);
  EXPECT_FALSE(make(Conv1dParams{64, 64, 7}).uses_fft());
  set_conv1d_fft(true);
  Tensor w = random_tensor({64, 64, 7}, rng);
  EXPECT_FALSE(Conv1d(Conv1dParams{64, 64, 7}, w, nullptr, Backend::kReference).uses_fft());
}

TEST(Conv1dFftTest, MatchesReference) {
  std::mt19937 rng(2024);
  const Case cases[] = {
      {64, 64, 7, 1, 3, 3, 1},       {64, 64, 7, 1, 3, 3, 9},        {64, 64, 7, 3, 9, 9, 40},
      {128, 128, 11, 1, 5, 5, 300},  {128, 128, 11, 5, 25, 25, 777}, {64, 128, 11, 3, 15, 15, 2049},
      {96, 80, 5, 1, 2, 2, 513},     {64, 64, 16, 2, 0, 7, 200},     {64, 256, 5, 1, 2, 2, 65},
      {256, 256, 7, 1, 3, 3, 150},   {64, 64, 9, 4, 0, 0, 5000},     {64, 64, 7, 5, 40, 0, 3},
      {32, 32, 11, 3, 15, 15, 9000}, {32, 48, 7, 5, 15, 15, 333},    {48, 32, 5, 1, 2, 2, 20},
      {128, 128, 3, 5, 5, 5, 3001},  {256, 128, 3, 1, 1, 1, 64},     {128, 128, 4, 2, 3, 0, 700}};
  for (const Case& c : cases) {
    const Conv1dParams p = params_of(c);
    Tensor w = random_tensor({c.cout, c.cin, c.k}, rng, 0.1f);
    Tensor b = random_tensor({c.cout}, rng);
    Tensor x = random_tensor({c.t_in, c.cin}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    ASSERT_TRUE(fast.uses_fft());
    const int64_t t_out = ref.out_length(c.t_in);
    if (t_out <= 0) continue;
    Tensor yr({t_out, c.cout}), yf({t_out, c.cout});
    ref.forward(x, yr);
    fast.forward(x, yf);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "cin " << c.cin << " cout " << c.cout << " k " << c.k
                                          << " dil " << c.dil << " t_in " << c.t_in;
  }
}

TEST(Conv1dFftTest, EpiloguesAndPlansMatchReference) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 12; ++iter) {
    Conv1dParams p{64 + 16 * (iter % 3), 64 + 16 * (iter % 2), iter % 2 ? 11 : 7};
    p.dilation = 1 + 2 * (iter % 3);
    p.pad((p.kernel * p.dilation - p.dilation) / 2);
    p.post = iter % 2 ? PostOp::kLeakyRelu : PostOp::kNone;
    p.alpha = 0.1f;
    const int64_t t_in = iter < 6 ? 20 + 31 * iter : 3000 + 97 * iter;
    Tensor w = random_tensor({p.out_channels, p.in_channels, p.kernel}, rng, 0.1f);
    Tensor b = random_tensor({p.out_channels}, rng);
    Tensor x = random_tensor({t_in, p.in_channels}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    ASSERT_TRUE(fast.uses_fft());
    const int64_t t_out = ref.out_length(t_in);
    Tensor res = random_tensor({t_out, p.out_channels}, rng);
    ConvEpilogue ep;
    if (iter % 3 == 0) ep.residual = res.data();
    if (iter % 3 != 2) ep.accumulate = iter % 2 == 0;
    if (iter % 4 != 0) ep.scale = 1.f / 3.f;
    if (iter % 2 == 0) {
      ep.post2 = PostOp::kLeakyRelu;
      ep.alpha2 = 0.01f;
    }
    if (iter % 3 == 1) {  // leaky ReLU on the input as it is read
      ep.pre = PostOp::kLeakyRelu;
      ep.pre_alpha = 0.1f;
    }
    Tensor yr = random_tensor({t_out, p.out_channels}, rng), yf = yr;
    const int64_t plan = iter % 4 == 1 ? t_in + 500 : -1;
    ref.forward(x.data(), t_in, yr.data(), ep);
    fast.forward(x.data(), t_in, yf.data(), ep, plan);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "iter " << iter;
  }
}

TEST(Conv1dFftTest, InputActivationOnlyWhereSupported) {
  // The input activation is the convolution of leaky(x), x untouched; a direct-path layer refuses
  // it rather than ignoring it.
  std::mt19937 rng(5);
  Conv1dParams p{64, 64, 7};
  p.pad(3);
  Tensor w = random_tensor({64, 64, 7}, rng, 0.1f);
  Tensor x = random_tensor({100, 64}, rng), xa = x;
  for (int64_t i = 0; i < xa.numel(); ++i) xa[i] = xa[i] > 0 ? xa[i] : 0.1f * xa[i];
  Conv1d fast(p, w, nullptr, Backend::kFast);
  ASSERT_TRUE(fast.uses_fft());
  ConvEpilogue ep;
  ep.pre = PostOp::kLeakyRelu;
  ep.pre_alpha = 0.1f;
  Tensor y1({100, 64}), y2({100, 64});
  const Tensor x0 = x;
  fast.forward(x.data(), 100, y1.data(), ep);
  fast.forward(xa.data(), 100, y2.data(), ConvEpilogue{});
  EXPECT_LT(max_rel_diff(y1, y2), 1e-6);
  EXPECT_EQ(max_rel_diff(x, x0), 0.0);
  set_conv1d_fft(false);
  Conv1d direct(p, w, nullptr, Backend::kFast);
  set_conv1d_fft(true);
  ASSERT_FALSE(direct.uses_fft());
  EXPECT_THROW(direct.forward(x.data(), 100, y1.data(), ep), Error);
  ep.pre = PostOp::kTanh;
  EXPECT_THROW(fast.forward(x.data(), 100, y1.data(), ep), Error);
}

TEST(Conv1dFftTest, ShortCallsRunDirectAndMatchReference) {
  // With the default limit a DFT layer's call below kConv1dFftShortLimit outputs x taps (its
  // plan length) runs oneDNN's direct convolution, epilogues and the input activation included.
  const ShortLimit limit(kConv1dFftShortLimit);
  std::mt19937 rng(77);
  for (int iter = 0; iter < 6; ++iter) {
    Conv1dParams p{iter % 2 ? 256 : 128, iter % 2 ? 256 : 128, iter % 3 == 0 ? 3 : 11};
    p.dilation = 1 + 2 * (iter % 2);
    p.pad((p.kernel * p.dilation - p.dilation) / 2);
    const int64_t t_in = iter < 4 ? 20 + 40 * iter : kConv1dFftShortLimit / p.kernel + 50;
    Tensor w = random_tensor({p.out_channels, p.in_channels, p.kernel}, rng, 0.05f);
    Tensor b = random_tensor({p.out_channels}, rng);
    Tensor x = random_tensor({t_in, p.in_channels}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    ASSERT_TRUE(fast.uses_fft());
    const int64_t t_out = ref.out_length(t_in);
    EXPECT_EQ(fast.direct_for(t_out), t_out * p.kernel < kConv1dFftShortLimit) << iter;
    EXPECT_FALSE(ref.direct_for(t_out));
    Tensor res = random_tensor({t_out, p.out_channels}, rng);
    ConvEpilogue ep;
    ep.residual = iter % 2 == 0 ? res.data() : nullptr;
    ep.accumulate = iter % 3 == 1;
    ep.pre = PostOp::kLeakyRelu;
    ep.pre_alpha = 0.1f;
    ep.post2 = iter % 2 ? PostOp::kLeakyRelu : PostOp::kNone;
    ep.alpha2 = 0.01f;
    Tensor yr = random_tensor({t_out, p.out_channels}, rng), yf = yr;
    ref.forward(x.data(), t_in, yr.data(), ep);
    fast.prepare(t_in, ep);
    fast.forward(x.data(), t_in, yf.data(), ep);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "iter " << iter;
  }
}

TEST(Conv1dFftTest, AgreesWithDirectFastPath) {
  // The two fast algorithms on a HiFi-GAN stage: 128 channels, the three resblock kernels at
  // their dilations, 1.5 s of 40 kHz-model activations at that stage (100x upsampled frames).
  std::mt19937 rng(3);
  for (int64_t k : {7, 11}) {
    for (int64_t d : {1, 3, 5}) {
      Conv1dParams p{128, 128, k};
      p.dilation = d;
      p.pad((k * d - d) / 2);
      Tensor w = random_tensor({128, 128, k}, rng, 0.03f);
      Tensor b = random_tensor({128}, rng, 0.1f);
      Tensor x = random_tensor({15000, 128}, rng);
      Conv1d fft(p, w, &b, Backend::kFast);
      set_conv1d_fft(false);
      Conv1d direct(p, w, &b, Backend::kFast);
      set_conv1d_fft(true);
      ASSERT_TRUE(fft.uses_fft());
      ASSERT_FALSE(direct.uses_fft());
      Tensor y1, y2;
      fft.forward(x, y1);
      direct.forward(x, y2);
      EXPECT_LT(max_rel_diff(y1, y2), 1e-5) << "k " << k << " d " << d;
    }
  }
}

TEST(Conv1dFftTest, MovedLayersKeepTheirWeights) {
  // The DFT path reads the layer's own weights when it packs a primitive: after moves (a vector
  // of layers reallocating, as a model's resblock lists do while loading) the first call still
  // packs the right ones.
  std::mt19937 rng(8);
  Conv1dParams p{64, 64, 11};
  p.pad(5);
  std::vector<Tensor> ws;
  std::vector<Conv1d> layers;
  for (int i = 0; i < 5; ++i) {
    ws.push_back(random_tensor({64, 64, 11}, rng, 0.1f));
    layers.emplace_back(p, ws.back(), nullptr, Backend::kFast);
  }
  Conv1d moved = std::move(layers[2]);
  layers[2] = std::move(layers[4]);
  const Tensor x = random_tensor({300, 64}, rng);
  for (const auto& [layer, w] : {std::pair<const Conv1d*, const Tensor*>{&moved, &ws[2]},
                                 {&layers[2], &ws[4]},
                                 {&layers[0], &ws[0]}}) {
    ASSERT_TRUE(layer->uses_fft());
    Conv1d ref(p, *w, nullptr, Backend::kReference);
    Tensor yr, yf;
    ref.forward(x, yr);
    layer->forward(x, yf);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
  }
}

}  // namespace
}  // namespace rvc::nn
