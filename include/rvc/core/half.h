// rvc/core/half.h: rounding to IEEE half precision.
//
// RVC's checkpoints hold every weight as a half (upstream saves them with .half()); the fast f32
// paths keep such weights as halves (nn::Linear). Benchmarks and tests use round_to_half() to
// make random weights that look like a real file's.
#pragma once

#include <algorithm>
#include <cmath>

namespace rvc {

// v rounded to the nearest IEEE half (ties to even), subnormal halves included; zeros,
// infinities and NaNs unchanged. |v| must stay below 65520 (the halves' overflow bound).
inline float round_to_half(float v) {
  if (v == 0.f || !std::isfinite(v)) return v;
  int e = 0;
  std::frexp(v, &e);                                       // |v| = m * 2^e, m in [0.5, 1)
  const float q = std::ldexp(1.f, std::max(e - 11, -24));  // 11 significant bits; 2^-24 floor
  return std::nearbyint(v / q) * q;
}

}  // namespace rvc
