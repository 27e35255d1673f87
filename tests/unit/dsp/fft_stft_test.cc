#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/fft.h"
#include "rvc/dsp/stft.h"

namespace rvc::dsp {
namespace {

std::vector<std::complex<double>> naive_rdft(const std::vector<double>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<std::complex<double>> out(static_cast<size_t>(n / 2 + 1));
  for (int k = 0; k <= n / 2; ++k) {
    std::complex<double> acc = 0;
    for (int t = 0; t < n; ++t) {
      const long double ang = -2.0L * std::numbers::pi_v<long double> * ((1LL * k * t) % n) / n;
      acc += x[static_cast<size_t>(t)] * std::complex<double>(static_cast<double>(std::cos(ang)),
                                                              static_cast<double>(std::sin(ang)));
    }
    out[static_cast<size_t>(k)] = acc;
  }
  return out;
}

std::vector<double> random_signal(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> dist;
  std::vector<double> x(static_cast<size_t>(n));
  for (double& v : x) v = dist(rng);
  return x;
}

TEST(RealFft, MatchesDirectDftForPow2AndOtherSizes) {
  for (int n : {1, 2, 4, 8, 64, 1024, 6, 15, 100}) {
    SCOPED_TRACE(n);
    const std::vector<double> x = random_signal(n, 7u + static_cast<unsigned>(n));
    const RealFft fft(n);
    EXPECT_EQ(fft.n_bins(), n / 2 + 1);
    const auto got = fft.forward(x);
    const auto want = naive_rdft(x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_LT(std::abs(got[k] - want[k]), 1e-9 * n);
  }
}

TEST(RealFft, PureToneLandsInItsBin) {
  const int n = 512;
  std::vector<double> x(n);
  for (int t = 0; t < n; ++t) x[t] = std::cos(2 * std::numbers::pi * 37 * t / n);
  const auto spec = RealFft(n).forward(x);
  for (int k = 0; k <= n / 2; ++k) {
    EXPECT_NEAR(std::abs(spec[k]), k == 37 ? n / 2.0 : 0.0, 1e-9) << k;
  }
}

TEST(RealFft, RejectsBadSizes) {
  EXPECT_THROW(RealFft(0), Error);
  EXPECT_THROW(RealFft(-4), Error);
  const RealFft fft(8);
  EXPECT_THROW(fft.forward(std::vector<double>(7)), Error);
}

TEST(HannWindow, PeriodicAndSymmetric) {
  const auto p = hann_window(8, true);
  const auto s = hann_window(9, false);
  EXPECT_DOUBLE_EQ(p[0], 0.0);
  EXPECT_DOUBLE_EQ(p[4], 1.0);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(p[i], s[i], 1e-15);  // periodic n = symmetric n+1
  EXPECT_THROW(hann_window(0), Error);
}

TEST(Stft, FrameCountsAndShape) {
  const Stft stft(16, 4, 16);
  EXPECT_EQ(stft.n_bins(), 9);
  EXPECT_EQ(stft.n_frames(100, true), 26);
  EXPECT_EQ(stft.n_frames(100, false), 22);
  EXPECT_EQ(stft.n_frames(10, false), 0);
  const std::vector<float> x(100, 0.5f);
  EXPECT_EQ(stft.magnitude(x, true).size(), 9u * 26u);
}

TEST(Stft, CenteredFrameEqualsReflectPaddedWindowedFft) {
  const int n_fft = 32, hop = 8, n = 75;
  std::vector<float> x(n);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : x) v = u(rng);
  const Stft stft(n_fft, hop, n_fft);
  const auto mag = stft.magnitude(x, true);
  const int64_t frames = stft.n_frames(n, true);
  const auto w = hann_window(n_fft);
  for (int64_t f : {int64_t{0}, int64_t{3}, frames - 1}) {
    std::vector<double> frame(n_fft);
    for (int i = 0; i < n_fft; ++i) {
      int64_t j = f * hop - n_fft / 2 + i;
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      frame[i] = x[j] * w[i];
    }
    const auto want = naive_rdft(frame);
    for (int k = 0; k < n_fft / 2 + 1; ++k) {
      EXPECT_NEAR(mag[k * frames + f], std::abs(want[k]), 1e-12) << "frame " << f << " bin " << k;
    }
  }
}

TEST(Stft, ShortWindowIsCentred) {
  // A window shorter than n_fft is zero-padded symmetrically: a DC input gives sum(window).
  const Stft stft(16, 4, 8);
  const std::vector<float> x(64, 1.0f);
  const auto mag = stft.magnitude(x, false);
  double wsum = 0;
  for (double v : hann_window(8)) wsum += v;
  EXPECT_NEAR(mag[0], wsum, 1e-12);
}

TEST(Stft, RejectsBadArguments) {
  EXPECT_THROW(Stft(16, 0, 16), Error);
  EXPECT_THROW(Stft(16, 4, 17), Error);
  const Stft stft(16, 4, 16);
  EXPECT_THROW(stft.magnitude(std::vector<float>(8, 0.f), true), Error);  // n <= n_fft/2
}

}  // namespace
}  // namespace rvc::dsp
