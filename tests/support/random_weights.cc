// tests/support/random_weights.cc: see random_weights.h.
#include "support/random_weights.h"

#include <cmath>
#include <utility>

#include "rvc/core/half.h"

namespace rvc::test {

void RandomWeights::add(const std::string& name, Shape shape, float stddev, float mean) {
  Tensor t(std::move(shape));
  std::normal_distribution<float> d(mean, stddev);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
  map[name] = std::move(t);
}

void RandomWeights::linear(const std::string& name, int64_t out, int64_t in) {
  add(name + ".weight", {out, in}, 1.f / std::sqrt(static_cast<float>(in)));
  add(name + ".bias", {out}, 0.1f);
}

void RandomWeights::norm(const std::string& name, int64_t c) {
  add(name + ".weight", {c}, 0.1f, 1.f);
  add(name + ".bias", {c}, 0.1f);
}

void RandomWeights::batch_norm(const std::string& name, int64_t c) {
  add(name + ".weight", {c}, 0.1f, 1.f);
  add(name + ".bias", {c}, 0.1f);
  add(name + ".running_mean", {c}, 0.1f);
  add(name + ".running_var", {c}, 0.05f, 1.f);
}

void RandomWeights::round_to_halves() {
  for (auto& [name, t] : map) {
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = round_to_half(t[i]);
  }
}

}  // namespace rvc::test
