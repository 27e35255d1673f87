// gemm / Linear / attention / ops: fast path against the reference on random shapes.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <random>
#include <utility>

#include "nn_test_util.h"
#include "rvc/core/error.h"
#include "rvc/nn/attention.h"
#include "rvc/nn/linear.h"
#include "rvc/nn/ops.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;

TEST(GemmTest, FastMatchesReference) {
  std::mt19937 rng(5);
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t m = 7, n = 13, k = 9;
      Tensor a = random_tensor({ta ? k : m, ta ? m : k}, rng);
      Tensor b = random_tensor({tb ? n : k, tb ? k : n}, rng);
      Tensor cr = random_tensor({m, n}, rng), cf = cr;
      gemm(ta, tb, m, n, k, 0.5f, a.data(), a.dim(1), b.data(), b.dim(1), 1.f, cr.data(), n,
           Backend::kReference);
      gemm(ta, tb, m, n, k, 0.5f, a.data(), a.dim(1), b.data(), b.dim(1), 1.f, cf.data(), n,
           Backend::kFast);
      EXPECT_LT(max_rel_diff(cf, cr), 1e-5);
    }
  }
}

TEST(LinearTest, FastMatchesReference) {
  std::mt19937 rng(6);
  for (int iter = 0; iter < 8; ++iter) {
    const int64_t in = 1 + iter * 5, out = 3 + iter * 2, rows = 1 + iter * 17;
    Tensor w = random_tensor({out, in}, rng, 0.3f), b = random_tensor({out}, rng);
    Tensor x = random_tensor({rows, in}, rng);
    PostOp post = static_cast<PostOp>(iter % 4);
    Linear ref(w, &b, Backend::kReference, post, 0.1f), fast(w, &b, Backend::kFast, post, 0.1f);
    Tensor yr = random_tensor({rows, out}, rng), yf = yr;
    ref.forward(x, yr, iter % 2 == 1);
    fast.forward(x, yf, iter % 2 == 1);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << iter;
  }
}

// Weights that are all exactly halves (RVC's checkpoints store .half() weights) live in half
// precision and run up to 64 rows on the half-weight kernel, f32 arithmetic throughout. Against
// the reference (double sums): row counts around the 12-row register tile and the 64-row limit
// (65 goes to oneDNN, packed from the widened halves), partial 32-column panels, strided rows,
// accumulation, every post-op, 1 and 2 threads and a call from inside an OpenMP region.
TEST(LinearTest, HalfWeightsMatchReference) {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> q(-2000, 2000);  // k / 4096: exactly a half
  const int threads_before = num_threads();
  int iter = 0;
  for (const int64_t rows : {1, 11, 12, 13, 25, 32, 64, 65}) {
    for (const int64_t out : {1, 31, 33, 96}) {
      const int64_t in = 1 + (iter * 37) % 300, stride = in + (iter % 3) * 5;
      Tensor w({out, in}), b = random_tensor({out}, rng);
      for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<float>(q(rng)) / 4096.f;
      Tensor x = random_tensor({rows, stride}, rng);
      const auto post = static_cast<PostOp>(iter % 4);
      const bool acc = iter % 2 == 1;
      Linear ref(w, &b, Backend::kReference, post, 0.1f), fast(w, &b, Backend::kFast, post, 0.1f);
      if (__builtin_cpu_supports("avx512f")) {
        EXPECT_TRUE(fast.half_weights());
      }
      const Tensor y0 = random_tensor({rows, out}, rng);  // what accumulation adds onto
      Tensor yr = y0;
      ref.forward_strided(x.data(), rows, stride, yr.data(), acc);
      for (const int threads : {1, 2}) {
        set_num_threads(threads);
        Tensor yf = y0, yp = y0;
        fast.forward_strided(x.data(), rows, stride, yf.data(), acc);
        EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << rows << "x" << in << "->" << out << " " << threads;
#pragma omp parallel num_threads(2)
        {
          if (omp_get_thread_num() == 0)
            fast.forward_strided(x.data(), rows, stride, yp.data(), acc);
        }
        EXPECT_LT(max_rel_diff(yp, yr), 1e-5) << "in a parallel region, " << rows << " rows";
      }
      ++iter;
    }
  }
  set_num_threads(threads_before);
  // One weight that is not a half keeps the f32 copy (and oneDNN) at every row count.
  Tensor w = random_tensor({8, 8}, rng), b = random_tensor({8}, rng);
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<float>(q(rng)) / 4096.f;
  w.data()[5] = 0.1f;
  Linear fast(w, &b, Backend::kFast), ref(w, &b, Backend::kReference);
  EXPECT_FALSE(fast.half_weights());
  Tensor x = random_tensor({4, 8}, rng), yr, yf;
  ref.forward(x, yr);
  fast.forward(x, yf);
  EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
}

// Rows x_stride apart (a strided convolution's patches): the fast path against the reference
// and against dense rows copied out, with and without accumulation; a stride below the row
// length is refused.
TEST(LinearTest, StridedRowsMatchDenseRows) {
  std::mt19937 rng(16);
  for (int iter = 0; iter < 6; ++iter) {
    const int64_t in = 2 + iter * 7, out = 5 + iter * 3, rows = 1 + iter * 13;
    const int64_t stride = in + (iter % 3) * 4;
    Tensor w = random_tensor({out, in}, rng, 0.3f), b = random_tensor({out}, rng);
    Tensor x = random_tensor({(rows - 1) * stride + in}, rng);
    Tensor dense({rows, in});
    for (int64_t r = 0; r < rows; ++r) {
      std::copy(x.data() + r * stride, x.data() + r * stride + in, dense.data() + r * in);
    }
    Linear ref(w, &b, Backend::kReference), fast(w, &b, Backend::kFast);
    const bool acc = iter % 2 == 1;
    Tensor y0 = random_tensor({rows, out}, rng), yd = y0, yr = y0, yf = y0;
    fast.forward(dense.data(), rows, yd.data(), acc);
    ref.forward_strided(x.data(), rows, stride, yr.data(), acc);
    fast.forward_strided(x.data(), rows, stride, yf.data(), acc);
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << iter;
    EXPECT_LT(max_rel_diff(yf, yd), 1e-6) << iter;
  }
  Tensor w = random_tensor({3, 4}, rng);
  Linear fast(w, nullptr, Backend::kFast);
  std::vector<float> x(16), y(12);
  EXPECT_THROW(fast.forward_strided(x.data(), 3, 3, y.data()), rvc::Error);
}

TEST(AttentionTest, RelPosFastMatchesReference) {
  std::mt19937 rng(8);
  for (int64_t t : {1, 5, 23, 40}) {
    const int64_t c = 16, heads = 2, dk = 8;
    Tensor wq = random_tensor({c, c, 1}, rng, 0.3f), wk = random_tensor({c, c, 1}, rng, 0.3f),
           wv = random_tensor({c, c, 1}, rng, 0.3f), wo = random_tensor({c, c, 1}, rng, 0.3f);
    Tensor bq = random_tensor({c}, rng), bk = random_tensor({c}, rng), bv = random_tensor({c}, rng),
           bo = random_tensor({c}, rng);
    Tensor ek = random_tensor({1, 9, dk}, rng), ev = random_tensor({1, 9, dk}, rng);
    RelPosSelfAttention ref(wq, bq, wk, bk, wv, bv, wo, bo, ek, ev, heads, Backend::kReference);
    RelPosSelfAttention fast(wq, bq, wk, bk, wv, bv, wo, bo, ek, ev, heads, Backend::kFast);
    EXPECT_EQ(ref.window(), 4);
    Tensor x = random_tensor({t, c}, rng), yr({t, c}), yf({t, c});
    ref.forward(x.data(), t, t - t / 4, yr.data());
    fast.forward(x.data(), t, t - t / 4, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5) << t;
  }
}

TEST(AttentionTest, MultiHeadFastMatchesReferenceAndIgnoresMaskedKeys) {
  std::mt19937 rng(9);
  const int64_t c = 32, heads = 4, t = 19;
  Tensor w[4], b[4];
  for (int i = 0; i < 4; ++i) {
    w[i] = random_tensor({c, c}, rng, 0.2f);
    b[i] = random_tensor({c}, rng);
  }
  MultiHeadAttention ref(w[0], b[0], w[1], b[1], w[2], b[2], w[3], b[3], heads,
                         Backend::kReference);
  MultiHeadAttention fast(w[0], b[0], w[1], b[1], w[2], b[2], w[3], b[3], heads, Backend::kFast);
  Tensor x = random_tensor({t, c}, rng), yr({t, c}), yf({t, c});
  ref.forward(x.data(), t, t - 1, yr.data());
  fast.forward(x.data(), t, t - 1, yf.data());
  EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
  // Changing a masked key frame must not change the first t-1 outputs.
  Tensor x2 = x, y2({t, c});
  for (int64_t ch = 0; ch < c; ++ch) x2[(t - 1) * c + ch] += 5.f;
  ref.forward(x2.data(), t, t - 1, y2.data());
  for (int64_t i = 0; i < (t - 1) * c; ++i) EXPECT_NEAR(y2[i], yr[i], 1e-5);
}

TEST(OpsTest, LayerNormAndInterpolate) {
  Tensor x({2, 4});
  for (int i = 0; i < 8; ++i) x[i] = static_cast<float>(i);
  Tensor g({4}), b({4}), y({2, 4});
  for (int i = 0; i < 4; ++i) g[i] = 1.f;
  layer_norm(x.data(), y.data(), 2, 4, g.data(), b.data());
  EXPECT_NEAR(y[0], -1.3416f, 1e-3);
  EXPECT_NEAR(y[7], 1.3416f, 1e-3);
  // Linear interpolation 2 -> 4 frames (align_corners=False): 0, .25, .75, 1 of the way.
  Tensor a({2, 1}), o({4, 1});
  a[0] = 0.f;
  a[1] = 1.f;
  interpolate_linear(a.data(), 2, 1, o.data(), 4);
  EXPECT_FLOAT_EQ(o[0], 0.f);
  EXPECT_FLOAT_EQ(o[1], 0.25f);
  EXPECT_FLOAT_EQ(o[2], 0.75f);
  EXPECT_FLOAT_EQ(o[3], 1.f);
}

// WaveNet's gate: the vectorised fast path against libm from saturation (|x| ~ 100, exp clamped)
// through 0 (tanh's series branch), on a length with a tail past the vector width.
TEST(OpsTest, TanhSigmoidGateFastMatchesReference) {
  std::mt19937 rng(92);
  for (const float scale : {1e-3f, 0.05f, 1.f, 4.f, 60.f}) {
    SCOPED_TRACE(testing::Message() << "scale " << scale);
    const int64_t n = 203;
    const Tensor a = random_tensor({n}, rng, scale), b = random_tensor({n}, rng, scale);
    const Tensor ga = random_tensor({n}, rng, scale), gb = random_tensor({n}, rng, scale);
    Tensor yr({n}), yf({n});
    tanh_sigmoid_gate(a.data(), b.data(), ga.data(), gb.data(), yr.data(), n, Backend::kReference);
    tanh_sigmoid_gate(a.data(), b.data(), ga.data(), gb.data(), yf.data(), n, Backend::kFast);
    for (int64_t i = 0; i < n; ++i) {
      const double want =
          std::tanh(double(a[i]) + ga[i]) / (1.0 + std::exp(-(double(b[i]) + gb[i])));
      EXPECT_NEAR(yr[i], want, 1e-6) << i;
      EXPECT_NEAR(yf[i], want, 1e-6 + 2e-6 * std::abs(want)) << i;
    }
  }
}

// The vectorised, row-parallel layer norm against the textbook formula: channel counts with and
// without a tail past the 8 partial sums, row counts on one thread and split over threads,
// and in place.
TEST(OpsTest, LayerNormMatchesPlainFormula) {
  std::mt19937 rng(91);
  for (const auto& [rows, ch] :
       {std::pair<int64_t, int64_t>{3, 5}, {33, 768}, {499, 768}, {70, 1027}, {1, 8}}) {
    SCOPED_TRACE(testing::Message() << rows << " x " << ch);
    Tensor x = test::random_tensor({rows, ch}, rng, 3.f), g = test::random_tensor({ch}, rng),
           b = test::random_tensor({ch}, rng);
    for (int64_t i = 0; i < x.numel(); ++i) x[i] += 2.f;  // a mean far from 0
    Tensor want({rows, ch}), y({rows, ch});
    for (int64_t r = 0; r < rows; ++r) {
      long double m = 0, v = 0;
      for (int64_t c = 0; c < ch; ++c) m += x[r * ch + c];
      m /= ch;
      for (int64_t c = 0; c < ch; ++c) v += (x[r * ch + c] - m) * (x[r * ch + c] - m);
      v /= ch;
      for (int64_t c = 0; c < ch; ++c) {
        want[r * ch + c] =
            static_cast<float>((x[r * ch + c] - m) / std::sqrt(v + 1e-5L) * g[c] + b[c]);
      }
    }
    layer_norm(x.data(), y.data(), rows, ch, g.data(), b.data());
    EXPECT_LT(max_rel_diff(y, want), 1e-6);
    layer_norm(x.data(), x.data(), rows, ch, g.data(), b.data());  // in place
    for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(x[i], y[i]) << i;
  }
}

}  // namespace
}  // namespace rvc::nn
