// Gru: the fast path (one input-projection matmul + transposed gemv recurrence, directions in
// parallel) against the reference loops on random shapes, a hand-computed one-step case, and
// refusal of missing or misshapen tensors.
#include "rvc/nn/gru.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "nn_test_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;

TensorMap make_gru(int64_t in, int64_t hidden, int64_t layers, bool bidir, std::mt19937& rng) {
  TensorMap w;
  const float s = 1.f / std::sqrt(static_cast<float>(hidden));
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t li = l == 0 ? in : (bidir ? 2 : 1) * hidden;
    for (int d = 0; d < (bidir ? 2 : 1); ++d) {
      const std::string sfx = std::to_string(l) + (d ? "_reverse" : "");
      w["g.weight_ih_l" + sfx] = random_tensor({3 * hidden, li}, rng, s);
      w["g.weight_hh_l" + sfx] = random_tensor({3 * hidden, hidden}, rng, s);
      w["g.bias_ih_l" + sfx] = random_tensor({3 * hidden}, rng, s);
      w["g.bias_hh_l" + sfx] = random_tensor({3 * hidden}, rng, s);
    }
  }
  return w;
}

TEST(GruTest, OneStepMatchesFormula) {
  // hidden 1, input 1, one frame from h0 = 0: h = (1 - z) * n.
  TensorMap w;
  w["weight_ih_l0"] = Tensor({3, 1});
  w["weight_hh_l0"] = Tensor({3, 1});
  w["bias_ih_l0"] = Tensor({3});
  w["bias_hh_l0"] = Tensor({3});
  float* wi = w["weight_ih_l0"].data();
  wi[0] = 0.5f;                // r
  wi[1] = -1.f;                // z
  wi[2] = 2.f;                 // n
  w["bias_hh_l0"][2] = 0.25f;  // b_hn, multiplied by r
  const float x = 0.3f;
  const double r = 1 / (1 + std::exp(-0.5 * x)), z = 1 / (1 + std::exp(1.0 * x));
  const double want = (1 - z) * std::tanh(2.0 * x + r * 0.25);
  for (Backend b : {Backend::kReference, Backend::kFast}) {
    const Gru g(w, "", 1, false, b);
    float y = 0.f;
    g.forward(&x, 1, &y);
    EXPECT_NEAR(y, want, 1e-6) << backend_name(b);
  }
}

TEST(GruTest, FastMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(0, 1000);
  for (int iter = 0; iter < 10; ++iter) {
    const int64_t in = 1 + pick(rng) % 40, hidden = 1 + pick(rng) % 40;
    const int64_t layers = 1 + iter % 2, t = 1 + pick(rng) % 60;
    const bool bidir = iter % 3 != 2;
    SCOPED_TRACE(testing::Message() << "in " << in << " hidden " << hidden << " layers " << layers
                                    << " t " << t << " bidir " << bidir);
    const TensorMap w = make_gru(in, hidden, layers, bidir, rng);
    const Gru ref(w, "g.", layers, bidir, Backend::kReference);
    const Gru fast(w, "g.", layers, bidir, Backend::kFast);
    ASSERT_EQ(ref.out_features(), (bidir ? 2 : 1) * hidden);
    const Tensor x = random_tensor({t, in}, rng);
    Tensor yr({t, ref.out_features()}), yf(yr.shape());
    ref.forward(x.data(), t, yr.data());
    fast.forward(x.data(), t, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
  }
}

// The fast path's vectorised exp / tanh over the whole range: gate pre-activations from about
// -100 to 100 (saturated sigmoids, tanh at +-1, exp clamped) and near 0 (tanh's series branch).
// Only the input side is scaled up: large hidden-hidden weights make the recurrence chaotic,
// where any change of rounding (libm's included) ends in a different trajectory.
TEST(GruTest, FastMatchesReferenceFromSaturationToZero) {
  std::mt19937 rng(6);
  for (const float gain : {0.02f, 1.f, 40.f}) {
    SCOPED_TRACE(testing::Message() << "gain " << gain);
    TensorMap w = make_gru(24, 48, 1, true, rng);
    for (auto& [key, t] : w) {
      const float k = key.find("_ih_") != std::string::npos ? gain : std::min(gain, 1.f);
      for (int64_t i = 0; i < t.numel(); ++i) t[i] *= k;
    }
    const Gru ref(w, "g.", 1, true, Backend::kReference);
    const Gru fast(w, "g.", 1, true, Backend::kFast);
    const Tensor x = random_tensor({50, 24}, rng, 2.f);
    Tensor yr({50, ref.out_features()}), yf(yr.shape());
    ref.forward(x.data(), 50, yr.data());
    fast.forward(x.data(), 50, yf.data());
    EXPECT_LT(max_rel_diff(yf, yr), 1e-5);
  }
}

TEST(GruTest, RejectsMissingOrMisshapenTensors) {
  std::mt19937 rng(9);
  TensorMap w = make_gru(4, 3, 1, true, rng);
  EXPECT_THROW(Gru(w, "g.", 2, true), Error);  // layer 1 missing
  EXPECT_THROW(Gru(w, "h.", 1, true), Error);
  w["g.weight_hh_l0_reverse"] = Tensor({9, 4});
  try {
    Gru g(w, "g.", 1, true);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight_hh_l0_reverse"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rvc::nn
