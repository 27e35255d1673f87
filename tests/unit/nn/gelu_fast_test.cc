// nn::gelu_erf: the fast (rational erf) path against the reference (libm erf) path.
#include "rvc/nn/gelu_fast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "rvc/nn/backend.h"

namespace rvc::nn {
namespace {

void expect_matches_reference(const std::vector<float>& x) {
  std::vector<float> want(x.size()), got(x.size());
  gelu_erf(x.data(), want.data(), x.size(), Backend::kReference);
  gelu_erf(x.data(), got.data(), x.size(), Backend::kFast);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    // erf error < 2e-7 plus float rounding of 0.5 * x * (1 + erf).
    const double bound = 3e-7 * std::max(1.0, std::abs(static_cast<double>(x[i])));
    const double d = std::abs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, d / bound);
    ASSERT_LE(d, bound) << "x = " << x[i] << ": fast " << got[i] << ", reference " << want[i];
  }
  EXPECT_LE(worst, 1.0);
}

TEST(GeluFast, DenseSweepMatchesReference) {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 5e-5f);  // [-10,10]
  for (float v : {-1e30f, -100.f, -5.6f, -4.f, 4.f, 5.6f, 100.f, 1e30f, 0.f, -0.f, 1e-30f}) {
    x.push_back(v);
  }
  expect_matches_reference(x);
}

TEST(GeluFast, LargeThreadedBufferInPlace) {
  set_num_threads(2);
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 3.f);
  std::vector<float> x(1 << 18);
  for (float& v : x) v = d(rng);
  expect_matches_reference(x);
  std::vector<float> ref(x.size());
  gelu_erf(x.data(), ref.data(), x.size(), Backend::kFast);
  gelu_erf(x.data(), x.data(), x.size(), Backend::kFast);  // in place
  EXPECT_EQ(x, ref);
}

TEST(GeluFast, Limits) {
  std::vector<float> x = {std::numeric_limits<float>::infinity(), 0.f};
  std::vector<float> y(2);
  gelu_erf(x.data(), y.data(), 2, Backend::kFast);
  EXPECT_EQ(y[1], 0.f);
  EXPECT_TRUE(std::isinf(y[0]));
}

}  // namespace
}  // namespace rvc::nn
