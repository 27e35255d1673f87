// dsp::resample_kaiser_best against resampy 0.4.2 + librosa 0.9.2 (upstream's pinned versions):
// reference values from resampy's interpolation loop run on the filter table stored in
// resampy/data/kaiser_best.npz (so the rebuilt table, the float32 accumulation and librosa's
// ceil length are all checked), plus properties that hold for any rate pair.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/resample.h"

namespace rvc::dsp {
namespace {

std::vector<float> test_signal() {
  std::vector<float> x(301);
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(i);
    x[i] = static_cast<float>(0.6 * std::sin(0.05 * d * std::sqrt(d)) + 0.3 * std::cos(1.3 * d));
  }
  return x;
}

struct Expected {
  int from_hz, to_hz;
  size_t length;
  std::vector<std::pair<size_t, float>> samples;
};

TEST(ResampleKaiserBest, MatchesResampyOnItsStoredFilter) {
  const std::vector<Expected> cases = {
      {40000,
       48000,
       362,
       {{0, 0.2878994345664978f},
        {1, 0.18492048978805542f},
        {7, 0.46392813324928284f},
        {120, -0.2676122784614563f},
        {181, -0.5201836228370667f},
        {360, 0.7411814332008362f},
        {361, 0.0f}}},
      {48000,
       32000,
       201,
       {{0, 0.24346357583999634f},
        {1, -0.027577482163906097f},
        {7, 0.7364628911018372f},
        {67, 0.14701169729232788f},
        {100, -0.11614121496677399f},
        {199, 0.20741169154644012f},
        {200, 0.0f}}},
      {32000,
       44100,
       415,
       {{0, 0.2878994345664978f},
        {1, 0.22096922993659973f},
        {7, 0.6167893409729004f},
        {138, -0.15698117017745972f},
        {207, -0.21835942566394806f},
        {413, 0.8888922929763794f},
        {414, 0.0f}}},
  };
  const std::vector<float> x = test_signal();
  for (const Expected& e : cases) {
    SCOPED_TRACE(std::to_string(e.from_hz) + " -> " + std::to_string(e.to_hz));
    const std::vector<float> y = resample_kaiser_best(x, e.from_hz, e.to_hz);
    ASSERT_EQ(y.size(), e.length);  // librosa: ceil(n * ratio), the last one zero padded
    for (const auto& [i, v] : e.samples) EXPECT_NEAR(y[i], v, 2e-7f) << "sample " << i;
  }
}

TEST(ResampleKaiserBest, KeepsAToneInThePassBandAndRemovesOneAboveIt) {
  const int from = 48000, to = 16000;
  std::vector<float> in(48000), out_of_band(48000);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 1000.0 * i / from));
    out_of_band[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 10000.0 * i / from));
  }
  const std::vector<float> y = resample_kaiser_best(in, from, to);
  const std::vector<float> z = resample_kaiser_best(out_of_band, from, to);
  ASSERT_EQ(y.size(), 16000u);
  double err = 0, leak = 0;
  for (size_t i = 1000; i < 15000; ++i) {  // away from the zero-padded edges
    err = std::max(err, std::abs(y[i] - 0.5 * std::sin(2 * M_PI * 1000.0 * i / to)));
    leak = std::max(leak, static_cast<double>(std::abs(z[i])));
  }
  EXPECT_LT(err, 1e-4);
  EXPECT_LT(leak, 1e-4);  // 10 kHz is above the 8 kHz output Nyquist
}

TEST(ResampleKaiserBest, SameRateCopiesAndBadInputIsRefused) {
  const std::vector<float> x = test_signal();
  EXPECT_EQ(resample_kaiser_best(x, 40000, 40000), x);
  EXPECT_THROW(resample_kaiser_best(x, 0, 40000), Error);
  EXPECT_THROW(resample_kaiser_best(x, 40000, -1), Error);
  const std::vector<float> one(1, 0.5f);
  EXPECT_THROW(resample_kaiser_best(one, 48000, 16000), Error);  // no whole output sample
}

}  // namespace
}  // namespace rvc::dsp
