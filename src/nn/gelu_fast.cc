#include "rvc/nn/gelu_fast.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "rvc/nn/ops.h"

namespace rvc::nn {
namespace {

// Elements per thread below which threading does not pay.
constexpr size_t kMinPerThread = size_t{1} << 15;

// erf(z) ~= z * P(z^2) / Q(z^2) for z clamped to [-4, 4] (erf(4) rounds to 1 in float).
__attribute__((target_clones("avx512f", "avx2", "default"))) void gelu_rational(const float* x,
                                                                                float* y,
                                                                                size_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  constexpr float a1 = -1.60960333262415e-02f, a3 = -2.95459980854025e-03f;
  constexpr float a5 = -7.34990630326855e-04f, a7 = -5.69250639462346e-05f;
  constexpr float a9 = -2.10102402082508e-06f, a11 = 2.77068142495902e-08f;
  constexpr float a13 = -2.72614225801306e-10f;
  constexpr float b0 = -1.42647390514189e-02f, b2 = -7.37332916720468e-03f;
  constexpr float b4 = -1.68282697438203e-03f, b6 = -2.13374055278905e-04f;
  constexpr float b8 = -1.45660718464996e-05f;
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    float z = v * kInvSqrt2;
    z = z < -4.f ? -4.f : (z > 4.f ? 4.f : z);
    const float z2 = z * z;
    float p = a13;
    p = p * z2 + a11;
    p = p * z2 + a9;
    p = p * z2 + a7;
    p = p * z2 + a5;
    p = p * z2 + a3;
    p = p * z2 + a1;
    float q = b8;
    q = q * z2 + b6;
    q = q * z2 + b4;
    q = q * z2 + b2;
    q = q * z2 + b0;
    y[i] = 0.5f * v * (1.f + z * p / q);
  }
}

}  // namespace

void gelu_erf(const float* x, float* y, size_t n, Backend backend) {
  if (backend == Backend::kReference) {
    gelu(x, y, n);
    return;
  }
  const int threads =
      omp_in_parallel()
          ? 1
          : static_cast<int>(std::min<size_t>(static_cast<size_t>(num_threads()),
                                              std::max<size_t>(n / kMinPerThread, 1)));
  if (threads <= 1) {
    gelu_rational(x, y, n);
    return;
  }
  const size_t per = (n + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const size_t b = static_cast<size_t>(t) * per;
    if (b < n) gelu_rational(x + b, y + b, std::min(per, n - b));
  }
}

}  // namespace rvc::nn
