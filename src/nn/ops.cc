#include "rvc/nn/ops.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fast_math.h"
#include "rvc/core/error.h"
#include "rvc/nn/backend.h"

namespace rvc::nn {

void leaky_relu(const float* x, float* y, size_t n, float slope) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.f ? x[i] * slope : x[i];
}
void relu(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];
}
void gelu(const float* x, float* y, size_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  for (size_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * kInvSqrt2));
}
void tanh(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}
void sigmoid(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
}
void softplus(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > 20.f ? x[i] : std::log1p(std::exp(x[i]));
}
void add(const float* a, const float* b, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void scale(const float* x, float* y, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] * s;
}

namespace {

// Rows [r0, r1) of layer_norm. Mean and variance in double, each summed in 8 interleaved
// partial sums (then the tail) so that the loops vectorise; a row is read whole before it is
// written, so x == y works.
__attribute__((target_clones("avx512f", "avx2", "default"))) void layer_norm_rows(
    const float* x, float* y, int64_t r0, int64_t r1, int64_t channels, const float* gamma,
    const float* beta, float eps) {
  constexpr int64_t kLanes = 8;
  const int64_t body = channels / kLanes * kLanes;
  for (int64_t t = r0; t < r1; ++t) {
    const float* xr = x + t * channels;
    float* yr = y + t * channels;
    double part[kLanes] = {};
    for (int64_t c = 0; c < body; c += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) part[j] += xr[c + j];
    }
    double mean = 0.0;
    for (int64_t j = 0; j < kLanes; ++j) mean += part[j];
    for (int64_t c = body; c < channels; ++c) mean += xr[c];
    mean /= static_cast<double>(channels);
    double sq[kLanes] = {};
    for (int64_t c = 0; c < body; c += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) {
        const double d = xr[c + j] - mean;
        sq[j] += d * d;
      }
    }
    double var = 0.0;
    for (int64_t j = 0; j < kLanes; ++j) var += sq[j];
    for (int64_t c = body; c < channels; ++c) {
      const double d = xr[c] - mean;
      var += d * d;
    }
    var /= static_cast<double>(channels);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int64_t c = 0; c < channels; ++c) yr[c] = (xr[c] - m) * inv * gamma[c] + beta[c];
  }
}

// Elements per thread below which a row-parallel op stays on the calling thread.
constexpr int64_t kMinPerThread = int64_t{1} << 15;

__attribute__((target_clones("avx512f", "avx2", "default"))) void tanh_sigmoid_gate_fast(
    const float* a, const float* b, const float* ga, const float* gb, float* y, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    y[c] = detail::tanh_fast(a[c] + ga[c]) * detail::sigmoid_fast(b[c] + gb[c]);
  }
}

}  // namespace

void tanh_sigmoid_gate(const float* a, const float* b, const float* ga, const float* gb, float* y,
                       int64_t n, Backend backend) {
  if (backend == Backend::kFast) {
    tanh_sigmoid_gate_fast(a, b, ga, gb, y, n);
    return;
  }
  for (int64_t c = 0; c < n; ++c) {
    y[c] = std::tanh(a[c] + ga[c]) * (1.f / (1.f + std::exp(-(b[c] + gb[c]))));
  }
}

void layer_norm(const float* x, float* y, int64_t rows, int64_t channels, const float* gamma,
                const float* beta, float eps) {
  // Row-parallel outside an OpenMP region for large inputs (HuBERT's 499 x 768 per 10 s: 25
  // norms per call that used to run on one core while the other waited).
  const int64_t want = std::min<int64_t>(rows, rows * channels / kMinPerThread);
  const int threads =
      omp_in_parallel()
          ? 1
          : static_cast<int>(std::clamp<int64_t>(want, 1, static_cast<int64_t>(num_threads())));
  if (threads <= 1) {
    layer_norm_rows(x, y, 0, rows, channels, gamma, beta, eps);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int i = 0; i < threads; ++i) {
    const int64_t r0 = rows * i / threads, r1 = rows * (i + 1) / threads;
    layer_norm_rows(x, y, r0, r1, channels, gamma, beta, eps);
  }
}

void group_norm(const float* x, float* y, int64_t rows, int64_t channels, int64_t groups,
                const float* gamma, const float* beta, float eps) {
  if (groups <= 0 || channels % groups != 0) {
    fail("group_norm: ", channels, " channels not divisible into ", groups, " groups");
  }
  int64_t cg = channels / groups;
  for (int64_t g = 0; g < groups; ++g) {
    double sum = 0.0, sq = 0.0;
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c) sum += x[t * channels + c];
    }
    double n = static_cast<double>(rows * cg);
    double mean = sum / n;
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
        double d = x[t * channels + c] - mean;
        sq += d * d;
      }
    }
    float inv = static_cast<float>(1.0 / std::sqrt(sq / n + eps));
    float m = static_cast<float>(mean);
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
        y[t * channels + c] = (x[t * channels + c] - m) * inv * gamma[c] + beta[c];
      }
    }
  }
}

BatchNorm::BatchNorm(const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                     const Tensor& running_var, float eps) {
  int64_t c = weight.numel();
  if (bias.numel() != c || running_mean.numel() != c || running_var.numel() != c) {
    fail("BatchNorm: parameter sizes differ (weight ", c, ", bias ", bias.numel(), ", mean ",
         running_mean.numel(), ", var ", running_var.numel(), ")");
  }
  scale_ = Tensor({c});
  shift_ = Tensor({c});
  for (int64_t i = 0; i < c; ++i) {
    float s = weight[i] / std::sqrt(running_var[i] + eps);
    scale_[i] = s;
    shift_[i] = bias[i] - running_mean[i] * s;
  }
}

void BatchNorm::forward(const float* x, float* y, int64_t rows) const {
  int64_t c = channels();
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t i = 0; i < c; ++i) y[t * c + i] = x[t * c + i] * scale_[i] + shift_[i];
  }
}

void embedding(const Tensor& table, const int64_t* ids, int64_t n_ids, float* y) {
  if (table.ndim() != 2) fail("embedding: table shape ", shape_str(table.shape()));
  int64_t n = table.dim(0), c = table.dim(1);
  for (int64_t t = 0; t < n_ids; ++t) {
    if (ids[t] < 0 || ids[t] >= n)
      fail("embedding: id ", ids[t], " at ", t, " outside [0, ", n, ")");
    std::memcpy(y + t * c, table.data() + ids[t] * c, sizeof(float) * c);
  }
}

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = -INFINITY;
    for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, xr[c]);
    float sum = 0.f;
    for (int64_t c = 0; c < cols; ++c) {
      yr[c] = std::exp(xr[c] - mx);
      sum += yr[c];
    }
    float inv = 1.f / sum;
    for (int64_t c = 0; c < cols; ++c) yr[c] *= inv;
  }
}

void interpolate_linear(const float* x, int64_t t_in, int64_t channels, float* y, int64_t t_out) {
  // ref: aten/src/ATen/native/UpSample.h area_pixel_compute_source_index (align_corners=False)
  const float scale = static_cast<float>(t_in) / static_cast<float>(t_out);
  for (int64_t o = 0; o < t_out; ++o) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0.f) src = 0.f;
    int64_t i0 = static_cast<int64_t>(src);
    int64_t step = i0 < t_in - 1 ? 1 : 0;
    float l1 = src - static_cast<float>(i0);
    float l0 = 1.f - l1;
    const float* a = x + i0 * channels;
    const float* b = x + (i0 + step) * channels;
    float* yr = y + o * channels;
    for (int64_t c = 0; c < channels; ++c) yr[c] = l0 * a[c] + l1 * b[c];
  }
}

void mask_rows(float* x, int64_t rows, int64_t channels, int64_t valid) {
  if (valid >= rows) return;
  valid = std::max<int64_t>(valid, 0);
  std::memset(x + valid * channels, 0, sizeof(float) * (rows - valid) * channels);
}

}  // namespace rvc::nn
