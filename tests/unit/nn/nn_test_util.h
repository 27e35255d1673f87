// Helpers shared by the nn unit tests: seeded random tensors and max-abs-diff comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "rvc/core/tensor.h"

namespace rvc::nn::test {

inline Tensor random_tensor(Shape shape, std::mt19937& rng, float scale = 1.f) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> dist(0.f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = dist(rng);
  return t;
}

// max |a-b| / (1 + |b|) over all elements; inf on a shape mismatch.
inline double max_rel_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]) / (1.0 + std::abs(b[i])));
  }
  return m;
}

}  // namespace rvc::nn::test
