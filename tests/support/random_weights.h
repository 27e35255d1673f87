// tests/support/random_weights.h: synthetic model weights for architecture tests.
//
// RandomWeights fills a TensorMap with Gaussian tensors from a seeded std::mt19937, so a test
// builds weights of any hyper-parameters deterministically. Not thread-safe (one generator).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "rvc/core/tensor.h"

namespace rvc::test {

struct RandomWeights {
  explicit RandomWeights(uint32_t seed) : rng(seed) {}

  std::mt19937 rng;
  TensorMap map;

  // map[name] = tensor of `shape` with elements mean + stddev * N(0, 1).
  void add(const std::string& name, Shape shape, float stddev, float mean = 0.f);
  // Linear layer name.weight [out, in] (stddev 1/sqrt(in)) and name.bias [out].
  void linear(const std::string& name, int64_t out, int64_t in);
  // LayerNorm / GroupNorm affine name.weight ~ 1 and name.bias ~ 0, both [c].
  void norm(const std::string& name, int64_t c);
  // BatchNorm name.{weight, bias, running_mean, running_var}, [c] each, running_var ~ 1.
  void batch_norm(const std::string& name, int64_t c);
  // Rounds every tensor of the map to the nearest IEEE half (ties to even), as RVC's checkpoints
  // hold their weights (saved with .half()).
  void round_to_halves();
};

}  // namespace rvc::test
