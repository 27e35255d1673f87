// Conv2d / ConvTranspose2d / avg_pool2d: oneDNN fast paths against the reference loops on random
// shapes (with folded BatchNorm, ReLU and the post-activation residual), the reference against
// hand-computed values, and shape errors.
#include "rvc/nn/conv2d.h"

#include <gtest/gtest.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <random>

#include "nn_test_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;

BatchNorm random_bn(int64_t c, std::mt19937& rng) {
  Tensor w = random_tensor({c}, rng, 0.2f), b = random_tensor({c}, rng, 0.2f);
  Tensor m = random_tensor({c}, rng, 0.2f), v = random_tensor({c}, rng, 0.2f);
  for (int64_t i = 0; i < c; ++i) {
    w[i] += 1.f;
    v[i] = 1.f + std::abs(v[i]);
  }
  return BatchNorm(w, b, m, v);
}

// Random weights, bias, BatchNorm, input and prior output for one Conv2d case.
struct Case {
  Tensor wt, bias;
  BatchNorm bn;
  Tensor x, y0;
  Case(const Conv2dParams& p, int64_t h, int64_t w, float wscale, std::mt19937& rng)
      : wt(random_tensor({p.out_channels, p.in_channels, p.kernel_h, p.kernel_w}, rng, wscale)),
        bias(random_tensor({p.out_channels}, rng, 0.1f)),
        bn(random_bn(p.out_channels, rng)),
        x(random_tensor({h, w, p.in_channels}, rng)) {
    const Conv2d shape(p, wt, &bias, nullptr, Backend::kReference);
    y0 = random_tensor({shape.out_h(h), shape.out_w(w), p.out_channels}, rng);
  }
  // Runs the fast and reference layers; expects them equal; returns the reference output.
  Tensor expect_fast_matches_reference(const Conv2dParams& p, int64_t h, int64_t w, bool with_bn,
                                       bool accumulate) const {
    const Conv2d ref(p, wt, &bias, with_bn ? &bn : nullptr, Backend::kReference);
    const Conv2d fast(p, wt, &bias, with_bn ? &bn : nullptr, Backend::kFast);
    Tensor yr = y0, yf = y0;
    ref.forward(x.data(), h, w, yr.data(), accumulate);
    fast.forward(x.data(), h, w, yf.data(), accumulate);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
    return yr;
  }
};

TEST(Conv2dTest, ReferenceMatchesHandComputed) {
  // 1 -> 1 channel, 3x3 all-ones kernel, pad 1: each output is the sum of its 3x3 neighbourhood.
  Conv2dParams p;
  p.in_channels = p.out_channels = 1;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  Tensor w({1, 1, 3, 3}), b({1});
  for (int i = 0; i < 9; ++i) w[i] = 1.f;
  b[0] = 0.5f;
  Conv2d conv(p, w, &b, nullptr, Backend::kReference);
  const float x[6] = {1, 2, 3, 4, 5, 6};  // [2][3][1]
  float y[6];
  conv.forward(x, 2, 3, y);
  const float want[6] = {12.5f, 21.5f, 16.5f, 12.5f, 21.5f, 16.5f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
}

TEST(Conv2dTest, FastMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(77);
  std::uniform_int_distribution<int> pick(0, 1000);
  for (int iter = 0; iter < 24; ++iter) {
    Conv2dParams p;
    p.in_channels = 1 + pick(rng) % 20;
    p.out_channels = 1 + pick(rng) % 20;
    const bool one = iter % 3 == 2;
    p.kernel_h = p.kernel_w = one ? 1 : 3;
    p.pad_h = p.pad_w = one ? 0 : 1;
    if (iter % 6 == 5) {  // asymmetric bottom / right padding
      p.pad_h_end = pick(rng) % p.kernel_h;
      p.pad_w_end = pick(rng) % p.kernel_w;
    }
    p.post = iter % 2 ? PostOp::kRelu : PostOp::kNone;
    const bool accumulate = iter % 4 >= 2;
    const bool with_bn = iter % 5 != 0;
    const int64_t h = 1 + pick(rng) % 12, w = 1 + pick(rng) % 12;
    SCOPED_TRACE(testing::Message()
                 << "iter " << iter << " in " << p.in_channels << " out " << p.out_channels << " k "
                 << p.kernel_h << " " << h << "x" << w << " acc " << accumulate);
    const Case c(p, h, w, 0.3f, rng);
    const Tensor &wt = c.wt, &bias = c.bias, &x = c.x, &y0 = c.y0;
    const BatchNorm& bn = c.bn;
    const Tensor yr = c.expect_fast_matches_reference(p, h, w, with_bn, accumulate);
    // The folded reference against conv -> BatchNorm -> post (-> + y0) done in steps.
    Conv2dParams pp = p;
    pp.post = PostOp::kNone;
    const Conv2d plain(pp, wt, &bias, nullptr, Backend::kReference);
    Tensor ys(y0.shape());
    plain.forward(x.data(), h, w, ys.data());
    const int64_t pixels = ys.dim(0) * ys.dim(1);
    if (with_bn) bn.forward(ys.data(), ys.data(), pixels);
    if (p.post == PostOp::kRelu) relu(ys.data(), ys.data(), static_cast<size_t>(ys.numel()));
    if (accumulate) add(ys.data(), y0.data(), ys.data(), static_cast<size_t>(ys.numel()));
    EXPECT_LT(max_rel_diff(yr, ys), 1e-5);
  }
}

// Many channels on a small map take the im2col + matmul path (RMVPE's bottleneck shape).
TEST(Conv2dTest, SmallMapManyChannelsMatchesReference) {
  std::mt19937 rng(78);
  std::uniform_int_distribution<int> pick(0, 1000);
  for (int iter = 0; iter < 8; ++iter) {
    Conv2dParams p;
    p.in_channels = 120 + pick(rng) % 80;
    p.out_channels = 1 + pick(rng) % 150;
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    if (iter % 4 == 3) {  // asymmetric bottom / right padding
      p.pad_h_end = pick(rng) % 3;
      p.pad_w_end = pick(rng) % 3;
    }
    p.post = iter % 2 ? PostOp::kRelu : PostOp::kNone;
    const bool accumulate = iter % 4 >= 2;
    // 1-pixel-high or -wide maps, where whole kernel rows or columns read only padding.
    const int64_t h = iter < 3 ? 1 : 1 + pick(rng) % 16, w = iter % 3 == 1 ? 1 : 1 + pick(rng) % 8;
    SCOPED_TRACE(testing::Message()
                 << "iter " << iter << " in " << p.in_channels << " out " << p.out_channels << " "
                 << h << "x" << w << " acc " << accumulate);
    Case(p, h, w, 0.05f, rng).expect_fast_matches_reference(p, h, w, true, accumulate);
  }
}

// The blocked [C/16][H][W][16] layout: 3x3 convs of 64-128 channels on 128+ pixels run as
// oneDNN's Winograd convolution there (RMVPE's inner levels), others as direct convs. Each
// must match the reference on the same maps in [H][W][C], with BatchNorm, ReLU and the
// post-activation residual, and the conversions must round-trip exactly.
TEST(Conv2dTest, BlockedLayoutMatchesReference) {
  std::mt19937 rng(80);
  std::uniform_int_distribution<int> pick(0, 1000);
  const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
  const bool avx512 = (static_cast<unsigned>(dnnl::get_effective_cpu_isa()) & need) == need;
  const int64_t chans[] = {16, 32, 64, 80, 128, 256};
  for (int iter = 0; iter < 12; ++iter) {
    Conv2dParams p;
    p.in_channels = chans[2 + pick(rng) % 4];
    p.out_channels = iter % 4 == 3 ? chans[pick(rng) % 2] : chans[2 + pick(rng) % 4];
    const bool one = iter % 6 == 5;
    p.kernel_h = p.kernel_w = one ? 1 : 3;
    p.pad_h = p.pad_w = one ? 0 : 1;
    p.post = iter % 2 ? PostOp::kRelu : PostOp::kNone;
    const bool accumulate = iter % 3 != 0;
    const int64_t h = iter < 2 ? 32 : 4 + pick(rng) % 40, w = iter < 2 ? 4 : 4 + pick(rng) % 20;
    SCOPED_TRACE(testing::Message()
                 << "iter " << iter << " in " << p.in_channels << " out " << p.out_channels << " k "
                 << p.kernel_h << " " << h << "x" << w << " acc " << accumulate);
    const Case c(p, h, w, 0.05f, rng);
    const Conv2d ref(p, c.wt, &c.bias, &c.bn, Backend::kReference);
    const Conv2d fast(p, c.wt, &c.bias, &c.bn, Backend::kFast);
    const bool wino = !one && h * w >= 128 && std::min(p.in_channels, p.out_channels) >= 64 &&
                      std::max(p.in_channels, p.out_channels) <= 128;
    // oneDNN has f32 Winograd kernels on AVX-512 only; elsewhere every shape stays [H][W][C].
    EXPECT_EQ(fast.prefers_blocked(h, w), wino && avx512);
    EXPECT_FALSE(ref.prefers_blocked(h, w));
    Tensor yr = c.y0;
    ref.forward(c.x.data(), h, w, yr.data(), accumulate);
    Tensor xb(c.x.shape()), yb(c.y0.shape()), yf(c.y0.shape()), back(c.x.shape());
    to_blocked16(c.x.data(), h * w, p.in_channels, xb.data());
    from_blocked16(xb.data(), h * w, p.in_channels, back.data());
    for (int64_t i = 0; i < back.numel(); ++i) ASSERT_EQ(back[i], c.x[i]) << i;
    const int64_t pixels = c.y0.dim(0) * c.y0.dim(1);
    to_blocked16(c.y0.data(), pixels, p.out_channels, yb.data());
    fast.forward(xb.data(), h, w, yb.data(), accumulate, MapLayout::kBlocked16);
    from_blocked16(yb.data(), pixels, p.out_channels, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
    // The reference layer in the blocked layout too.
    to_blocked16(c.y0.data(), pixels, p.out_channels, yb.data());
    ref.forward(xb.data(), h, w, yb.data(), accumulate, MapLayout::kBlocked16);
    from_blocked16(yb.data(), pixels, p.out_channels, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-6);
  }
  Conv2dParams odd;
  odd.in_channels = 24;
  odd.out_channels = 32;
  std::mt19937 r2(1);
  const Case c(odd, 4, 4, 0.1f, r2);
  const Conv2d conv(odd, c.wt, &c.bias, nullptr, Backend::kFast);
  Tensor y(c.y0.shape());
  EXPECT_THROW(conv.forward(c.x.data(), 4, 4, y.data(), false, MapLayout::kBlocked16), Error);
}

// One layer serving maps of different heights keeps one matmul weight layout per active-tap
// window: a 1 x 4 map (RMVPE's bottleneck on one 32-frame block) uses only the middle kernel
// row, a 3 x 4 map all of them, and calls alternate.
TEST(Conv2dTest, OneLayerServesMapsWithDifferentActiveTaps) {
  std::mt19937 rng(79);
  Conv2dParams p;
  p.in_channels = 160;
  p.out_channels = 48;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  const Tensor wt = random_tensor({48, 160, 3, 3}, rng, 0.05f), bias = random_tensor({48}, rng);
  const Conv2d ref(p, wt, &bias, nullptr, Backend::kReference);
  const Conv2d fast(p, wt, &bias, nullptr, Backend::kFast);
  for (int64_t h : {1, 3, 1, 2, 3}) {
    const Tensor x = random_tensor({h, 4, 160}, rng);
    Tensor yr({h, 4, 48}), yf({h, 4, 48});
    ref.forward(x.data(), h, 4, yr.data());
    fast.forward(x.data(), h, 4, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "h " << h;
  }
}

TEST(Conv2dTest, RejectsBadShapes) {
  Conv2dParams p;
  p.in_channels = 2;
  p.out_channels = 3;
  p.kernel_h = p.kernel_w = 3;
  EXPECT_THROW(Conv2d(p, Tensor({3, 2, 3, 1}), nullptr), Error);
  const Tensor bad_bias({2});
  EXPECT_THROW(Conv2d(p, Tensor({3, 2, 3, 3}), &bad_bias), Error);
  std::mt19937 rng(1);
  const BatchNorm bn = random_bn(4, rng);
  EXPECT_THROW(Conv2d(p, Tensor({3, 2, 3, 3}), nullptr, &bn), Error);
  p.pad_h_end = 3;  // not smaller than the kernel
  EXPECT_THROW(Conv2d(p, Tensor({3, 2, 3, 3}), nullptr), Error);
}

TEST(ConvTranspose2dTest, ReferenceMatchesHandComputed) {
  // 1 -> 1, k=2, stride 2, no padding: each input pixel becomes a 2x2 block scaled by the kernel.
  ConvTranspose2dParams p;
  p.in_channels = p.out_channels = 1;
  p.kernel_h = p.kernel_w = 2;
  p.stride_h = p.stride_w = 2;
  Tensor w({1, 1, 2, 2});
  w[0] = 1.f;
  w[1] = 2.f;
  w[2] = 3.f;
  w[3] = 4.f;
  ConvTranspose2d ct(p, w, nullptr, nullptr, Backend::kReference);
  ASSERT_EQ(ct.out_h(1), 2);
  ASSERT_EQ(ct.out_w(2), 4);
  const float x[2] = {1.f, 10.f};
  float y[8];
  ct.forward(x, 1, 2, y);
  const float want[8] = {1, 2, 10, 20, 3, 4, 30, 40};
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(y[i], want[i]) << i;
}

TEST(ConvTranspose2dTest, FastMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> pick(0, 1000);
  for (int iter = 0; iter < 16; ++iter) {
    ConvTranspose2dParams p;
    p.in_channels = 1 + pick(rng) % 20;
    p.out_channels = 1 + pick(rng) % 20;
    p.kernel_h = p.kernel_w = 3;
    // RMVPE's decoder: stride (2,2) output_padding (1,1) (or (1,2) with (0,1)); padding 1.
    p.stride_h = iter % 2 ? 1 : 2;
    p.stride_w = 2;
    p.output_padding_h = p.stride_h - 1;
    // output_padding 0 makes the phases unequal: the oneDNN deconvolution fallback.
    p.output_padding_w = iter % 4 == 3 ? 0 : 1;
    p.pad_h = p.pad_w = 1;
    p.post = iter % 3 ? PostOp::kRelu : PostOp::kNone;
    const int64_t h = 1 + pick(rng) % 9, w = 1 + pick(rng) % 9;
    SCOPED_TRACE(testing::Message() << "iter " << iter << " " << h << "x" << w);
    const Tensor wt = random_tensor({p.in_channels, p.out_channels, 3, 3}, rng, 0.3f);
    const Tensor bias = random_tensor({p.out_channels}, rng, 0.1f);
    const BatchNorm bn = random_bn(p.out_channels, rng);
    const bool with_bn = iter % 4 != 1;
    const ConvTranspose2d ref(p, wt, iter % 2 ? &bias : nullptr, with_bn ? &bn : nullptr,
                              Backend::kReference);
    const ConvTranspose2d fast(p, wt, iter % 2 ? &bias : nullptr, with_bn ? &bn : nullptr,
                               Backend::kFast);
    ASSERT_EQ(ref.out_h(h), (h - 1) * p.stride_h + p.output_padding_h + 1);
    ASSERT_EQ(ref.out_w(w), 2 * w - 1 + p.output_padding_w);
    const Tensor x = random_tensor({h, w, p.in_channels}, rng);
    Tensor yr({ref.out_h(h), ref.out_w(w), p.out_channels}), yf(yr.shape());
    ref.forward(x.data(), h, w, yr.data());
    fast.forward(x.data(), h, w, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
  }
}

TEST(AvgPool2dTest, MatchesHandComputed) {
  // [3][4][2] -> kernel (2,2) -> [1][2][2] (the odd last row is dropped, as in PyTorch).
  float x[24];
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i);
  float y[4];
  avg_pool2d(x, 3, 4, 2, 2, 2, y);
  // pixel (0,0): x at (0,0),(0,1),(1,0),(1,1) channel 0 = 0, 2, 8, 10 -> 5
  EXPECT_FLOAT_EQ(y[0], 5.f);
  EXPECT_FLOAT_EQ(y[1], 6.f);
  EXPECT_FLOAT_EQ(y[2], 9.f);
  EXPECT_FLOAT_EQ(y[3], 10.f);
  float z[6];
  avg_pool2d(x, 3, 4, 2, 1, 2, z);  // kernel (1,2): [3][2][2] -> first row only checked
  EXPECT_FLOAT_EQ(z[0], 1.f);
  EXPECT_FLOAT_EQ(z[1], 2.f);
  EXPECT_THROW(avg_pool2d(x, 3, 4, 2, 0, 2, y), Error);
}

}  // namespace
}  // namespace rvc::nn
