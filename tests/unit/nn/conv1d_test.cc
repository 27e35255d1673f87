// Conv1d / ConvTranspose1d: oneDNN fast path against the reference loops on random shapes (with
// fused epilogues and planned chunk lengths), the reference against hand-computed values, and
// bf16 precision against f32.
#include "rvc/nn/conv1d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "nn_test_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;

TEST(Conv1dTest, ReferenceMatchesHandComputed) {
  // 1 in, 1 out, k=2, pad 1: y[t] = w0*x[t-1] + w1*x[t] + b
  Conv1dParams p;
  p.in_channels = 1;
  p.out_channels = 1;
  p.kernel = 2;
  p.pad(1);
  Tensor w({1, 1, 2}), b({1});
  w[0] = 2.f;
  w[1] = 3.f;
  b[0] = 0.5f;
  Conv1d conv(p, w, &b, Backend::kReference);
  Tensor x({3, 1}), y;
  x[0] = 1.f;
  x[1] = 2.f;
  x[2] = 4.f;
  conv.forward(x, y);
  ASSERT_EQ(y.shape(), (Shape{4, 1}));
  EXPECT_FLOAT_EQ(y[0], 3.5f);
  EXPECT_FLOAT_EQ(y[1], 8.5f);
  EXPECT_FLOAT_EQ(y[2], 16.5f);
  EXPECT_FLOAT_EQ(y[3], 8.5f);
}

TEST(Conv1dTest, FastMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> pick(0, 1000);
  for (int iter = 0; iter < 40; ++iter) {
    Conv1dParams p;
    p.groups = (iter % 4 == 3) ? 1 + pick(rng) % 4 : 1;
    p.in_channels = p.groups * (1 + pick(rng) % 12);
    p.out_channels = p.groups * (1 + pick(rng) % 12);
    p.kernel = 1 + pick(rng) % 7;
    p.stride = 1 + pick(rng) % 3;
    p.dilation = 1 + pick(rng) % 3;
    p.pad_left = pick(rng) % 4;
    p.pad_right = pick(rng) % 4;
    p.post = static_cast<PostOp>(pick(rng) % 4);
    p.alpha = 0.1f;
    int64_t t_in = p.dilation * (p.kernel - 1) + 1 + pick(rng) % 50;
    bool accumulate = iter % 3 == 1;
    Tensor w = random_tensor({p.out_channels, p.in_channels / p.groups, p.kernel}, rng, 0.3f);
    Tensor b = random_tensor({p.out_channels}, rng);
    Tensor x = random_tensor({t_in, p.in_channels}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    Tensor yr = random_tensor({ref.out_length(t_in), p.out_channels}, rng), yf = yr;
    ref.forward(x, yr, accumulate);
    fast.forward(x, yf, accumulate);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "iter " << iter;
  }
}

TEST(Conv1dTest, LongInputsSpanSeveralChunks) {
  // Lengths beyond the fast path's chunk size (4096 output frames), odd remainders, padding on
  // both ends, stride and dilation, with and without accumulate.
  std::mt19937 rng(7);
  struct Case {
    int64_t t_in, k, stride, dilation, pl, pr;
    bool acc;
  };
  for (const Case& cs : {Case{9001, 3, 1, 5, 5, 5, false}, Case{8192, 11, 1, 1, 5, 5, true},
                         Case{20000, 80, 40, 1, 20, 20, true}, Case{4097, 7, 2, 3, 0, 9, false}}) {
    Conv1dParams p;
    p.in_channels = 3;
    p.out_channels = 5;
    p.kernel = cs.k;
    p.stride = cs.stride;
    p.dilation = cs.dilation;
    p.pad_left = cs.pl;
    p.pad_right = cs.pr;
    Tensor w = random_tensor({5, 3, cs.k}, rng, 0.3f);
    Tensor b = random_tensor({5}, rng);
    Tensor x = random_tensor({cs.t_in, 3}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    Tensor yr = random_tensor({ref.out_length(cs.t_in), 5}, rng), yf = yr;
    ref.forward(x, yr, cs.acc);
    fast.forward(x, yf, cs.acc);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "t_in " << cs.t_in;
  }
}

TEST(Conv1dTest, FusedEpilogueFastMatchesReference) {
  // Residual add or accumulate, the layer's post, a scale and a second activation, over lengths
  // that span several chunks and end in a partial one.
  std::mt19937 rng(4321);
  for (int iter = 0; iter < 12; ++iter) {
    Conv1dParams p;
    p.in_channels = 3 + iter % 5;
    p.out_channels = 4 + iter % 3;
    p.kernel = 1 + 2 * (iter % 4);
    p.dilation = 1 + iter % 3;
    p.pad((p.kernel * p.dilation - p.dilation) / 2);
    p.post = iter % 2 ? PostOp::kLeakyRelu : PostOp::kNone;
    p.alpha = 0.1f;
    const int64_t t_in = iter < 6 ? 37 + 13 * iter : 5000 + 77 * iter;
    Tensor w = random_tensor({p.out_channels, p.in_channels, p.kernel}, rng, 0.3f);
    Tensor b = random_tensor({p.out_channels}, rng);
    Tensor x = random_tensor({t_in, p.in_channels}, rng);
    Conv1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    const int64_t t_out = ref.out_length(t_in);
    Tensor res = random_tensor({t_out, p.out_channels}, rng);
    ConvEpilogue ep;
    if (iter % 3 == 0) ep.residual = res.data();
    if (iter % 3 == 1) ep.accumulate = true;
    if (iter % 4 != 0) ep.scale = 1.f / 3.f;
    if (iter % 2 == 0) {
      ep.post2 = PostOp::kLeakyRelu;
      ep.alpha2 = 0.01f;
    }
    Tensor yr = random_tensor({t_out, p.out_channels}, rng), yf = yr;
    ref.forward(x.data(), t_in, yr.data(), ep);
    fast.forward(x.data(), t_in, yf.data(), ep);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "iter " << iter;
  }
}

TEST(Conv1dTest, PlannedLengthRunsShorterInputs) {
  // A call planned for a longer input (one primitive for every length up to it) gives the
  // same result as an unplanned call.
  std::mt19937 rng(11);
  Conv1dParams p;
  p.in_channels = 6;
  p.out_channels = 5;
  p.kernel = 5;
  p.dilation = 3;
  p.pad(6);
  Tensor w = random_tensor({5, 6, 5}, rng, 0.3f);
  Tensor b = random_tensor({5}, rng);
  Conv1d fast(p, w, &b, Backend::kFast), ref(p, w, &b, Backend::kReference);
  for (int64_t t_in : {1, 17, 300, 4095, 6000}) {
    Tensor x = random_tensor({t_in, 6}, rng);
    Tensor res = random_tensor({t_in, 5}, rng);
    ConvEpilogue ep;
    ep.residual = res.data();
    Tensor yr({t_in, 5}), yf({t_in, 5});
    ref.forward(x.data(), t_in, yr.data(), ep);
    fast.forward(x.data(), t_in, yf.data(), ep, /*plan_t_in=*/6000);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << "t_in " << t_in;
  }
}

// Relative L2 error ||a - b|| / ||b||.
double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

struct PrecisionGuard {
  explicit PrecisionGuard(Precision p) : saved(default_precision()) { set_default_precision(p); }
  ~PrecisionGuard() { set_default_precision(saved); }
  Precision saved;
};

TEST(Conv1dTest, Bf16CloseToF32) {
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no native bf16 (AVX512-BF16); f32 only";
  std::mt19937 rng(5);
  Conv1dParams p;
  p.in_channels = 64;
  p.out_channels = 48;
  p.kernel = 7;
  p.dilation = 3;
  p.pad(9);
  p.post = PostOp::kLeakyRelu;
  p.alpha = 0.1f;
  Tensor w = random_tensor({48, 64, 7}, rng, 0.05f);
  Tensor b = random_tensor({48}, rng, 0.1f);
  Tensor x = random_tensor({3000, 64}, rng);
  Conv1d f32(p, w, &b, Backend::kFast);
  PrecisionGuard guard(Precision::kBf16);
  Conv1d bf(p, w, &b, Backend::kFast);
  ASSERT_EQ(bf.precision(), Precision::kBf16);
  ASSERT_EQ(f32.precision(), Precision::kF32);
  Tensor y32, y16;
  f32.forward(x, y32);
  bf.forward(x, y16);
  const double e = rel_l2(y16, y32);
  EXPECT_LT(e, 1e-2);  // bf16 has an 8-bit mantissa: ~3e-3 per product sum
  EXPECT_GT(e, 1e-6);  // and it is really bf16, not f32
  // The transposed conv (its polyphase conv) follows the setting too.
  ConvTranspose1dParams tp{64, 32, 4, 2, 1};
  Tensor tw = random_tensor({64, 32, 4}, rng, 0.1f);
  ConvTranspose1d t16(tp, tw, nullptr, Backend::kFast);
  set_default_precision(Precision::kF32);
  ConvTranspose1d t32(tp, tw, nullptr, Backend::kFast);
  Tensor z32, z16;
  t32.forward(x, z32);
  t16.forward(x, z16);
  const double et = rel_l2(z16, z32);
  EXPECT_LT(et, 1e-2);
  EXPECT_GT(et, 1e-6);
}

TEST(Conv1dTest, RejectsBadWeightShape) {
  Conv1dParams p;
  p.in_channels = 4;
  p.out_channels = 2;
  p.kernel = 3;
  EXPECT_THROW(Conv1d(p, Tensor({2, 4, 2}), nullptr), Error);
  p.groups = 3;
  EXPECT_THROW(Conv1d(p, Tensor({2, 4, 3}), nullptr), Error);
}

TEST(ConvTranspose1dTest, FastMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> pick(0, 1000);
  // Includes the real NSF-HiFiGAN upsamplers (k=16,s=10,p=3; k=4,s=2,p=1; k=24,s=12,p=6;
  // k=20,s=10,p=5; k=20,s=8... ) and random ones.
  struct Case {
    int64_t k, s, p;
  };
  std::vector<Case> cases = {{16, 10, 3}, {4, 2, 1}, {24, 12, 6}, {20, 10, 5}, {16, 8, 4},
                             {3, 1, 1},   {5, 2, 0}, {7, 3, 2},   {2, 2, 0},   {10, 4, 3}};
  for (int iter = 0; iter < 30; ++iter) {
    ConvTranspose1dParams p;
    if (iter < static_cast<int>(cases.size())) {
      p.kernel = cases[iter].k;
      p.stride = cases[iter].s;
      p.padding = cases[iter].p;
    } else {
      p.kernel = 1 + pick(rng) % 12;
      p.stride = 1 + pick(rng) % 6;
      p.padding = pick(rng) % p.kernel;
      p.output_padding = pick(rng) % p.stride;
    }
    p.in_channels = 1 + pick(rng) % 10;
    p.out_channels = 1 + pick(rng) % 10;
    p.post = iter % 2 ? PostOp::kLeakyRelu : PostOp::kNone;
    p.alpha = 0.1f;
    int64_t t_in = 1 + pick(rng) % 30;
    Tensor w = random_tensor({p.in_channels, p.out_channels, p.kernel}, rng, 0.3f);
    Tensor b = random_tensor({p.out_channels}, rng);
    Tensor x = random_tensor({t_in, p.in_channels}, rng);
    ConvTranspose1d ref(p, w, &b, Backend::kReference), fast(p, w, &b, Backend::kFast);
    if (ref.out_length(t_in) <= 0) continue;
    Tensor yr, yf;
    ref.forward(x, yr);
    fast.forward(x, yf);
    EXPECT_EQ(yr.dim(0), (t_in - 1) * p.stride - 2 * p.padding + p.kernel + p.output_padding);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5)
        << "iter " << iter << " k=" << p.kernel << " s=" << p.stride << " p=" << p.padding;
  }
}

TEST(ConvTranspose1dTest, ReferenceMatchesHandComputed) {
  ConvTranspose1dParams p;
  p.in_channels = 1;
  p.out_channels = 1;
  p.kernel = 2;
  p.stride = 2;
  Tensor w({1, 1, 2});
  w[0] = 1.f;
  w[1] = -1.f;
  ConvTranspose1d ct(p, w, nullptr, Backend::kReference);
  Tensor x({2, 1}), y;
  x[0] = 3.f;
  x[1] = 5.f;
  ct.forward(x, y);
  ASSERT_EQ(y.shape(), (Shape{4, 1}));
  EXPECT_FLOAT_EQ(y[0], 3.f);
  EXPECT_FLOAT_EQ(y[1], -3.f);
  EXPECT_FLOAT_EQ(y[2], 5.f);
  EXPECT_FLOAT_EQ(y[3], -5.f);
}

}  // namespace
}  // namespace rvc::nn
