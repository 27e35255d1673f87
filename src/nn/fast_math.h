// Private to src/nn: vectorisable float exp / sigmoid / tanh for element-wise loops. Inline
// (always_inline) so that each target clone of a caller (target_clones("avx512f", "avx2",
// "default")) vectorises them for its ISA; GCC vectorises the floor and the bit_cast.
#pragma once

#include <bit>
#include <cstdint>

namespace rvc::nn::detail {

// exp(v), v clamped to [-87, 88]: 2^k * p(r) with r = v - k ln2 in [-ln2/2, ln2/2] and a
// degree-6 polynomial (relative error < 2e-7).
__attribute__((always_inline)) inline float exp_clamped(float v) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  v = v < -87.f ? -87.f : (v > 88.f ? 88.f : v);
  const float k = __builtin_floorf(v * kLog2e + 0.5f);
  const float r = (v - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

__attribute__((always_inline)) inline float sigmoid_fast(float v) {
  return 1.f / (1.f + exp_clamped(-v));
}

// tanh(u) = 1 - 2 / (exp(2u) + 1), and its odd Taylor series below |u| = 1/16 where that form
// would lose relative precision (series error < 3e-10 there; elsewhere < 3e-7 absolute).
__attribute__((always_inline)) inline float tanh_fast(float u) {
  const float u2 = u * u;
  const float series = u + u * u2 * (-1.f / 3.f + u2 * (2.f / 15.f - u2 * (17.f / 315.f)));
  const float wide = 1.f - 2.f / (exp_clamped(2.f * u) + 1.f);
  return u2 < 1.f / 256.f ? series : wide;
}

}  // namespace rvc::nn::detail
