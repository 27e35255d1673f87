#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/filters.h"
#include "rvc/dsp/rms.h"

namespace rvc::dsp {
namespace {

// Printed by scipy 1.10.1: signal.butter(N=5, Wn=48, btype="high", fs=16000).
TEST(Butter, HighPassMatchesScipy) {
  const std::vector<double> b = {0.9699606451838447, -4.849803225919223, 9.699606451838447,
                                 -9.699606451838447, 4.849803225919223,  -0.9699606451838447};
  const std::vector<double> a = {1.0,
                                 -4.939001819168364,
                                 9.757863526739541,
                                 -9.63954484941346,
                                 4.76150679735621,
                                 -0.9408236532054606};
  const IirCoeffs& f = rvc_highpass_16k();
  ASSERT_EQ(f.b.size(), 6u);
  ASSERT_EQ(f.a.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(f.b[i], b[i], 1e-12);
    EXPECT_NEAR(f.a[i], a[i], 1e-12);
  }
}

// signal.butter(N=4, Wn=1000, btype="low", fs=16000).
TEST(Butter, LowPassMatchesScipy) {
  const std::vector<double> b = {0.0009334986129548442, 0.0037339944518193766, 0.005600991677729065,
                                 0.0037339944518193766, 0.0009334986129548442};
  const std::vector<double> a = {1.0, -2.9768443336967323, 3.4223095293776398, -1.7861066002180395,
                                 0.35557738234440983};
  const IirCoeffs f = butter(4, 1000, FilterType::kLowPass, 16000);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(f.b[i], b[i], 1e-12);
    EXPECT_NEAR(f.a[i], a[i], 1e-12);
  }
  EXPECT_THROW(butter(0, 100, FilterType::kLowPass, 16000), Error);
  EXPECT_THROW(butter(2, 8000, FilterType::kLowPass, 16000), Error);
}

TEST(Lfilter, ZiGivesSteadyStateForAStep) {
  const IirCoeffs f = butter(3, 500, FilterType::kLowPass, 16000);
  const std::vector<double> zi = lfilter_zi(f);
  ASSERT_EQ(zi.size(), 3u);
  std::vector<double> state = zi;
  const std::vector<double> ones(200, 1.0);
  std::vector<double> y(200);
  lfilter(f, ones.data(), 200, y.data(), state.data());
  for (double v : y) EXPECT_NEAR(v, 1.0, 1e-12);  // unit DC gain, no transient
  for (size_t i = 0; i < zi.size(); ++i) EXPECT_NEAR(state[i], zi[i], 1e-12);
}

TEST(Lfilter, ImpulseResponseOfFirstOrderRecursion) {
  const IirCoeffs f{{1.0}, {1.0, -0.5}};
  const std::vector<double> x = {1, 0, 0, 0};
  std::vector<double> y(4);
  lfilter(f, x.data(), 4, y.data(), nullptr);
  EXPECT_DOUBLE_EQ(y[0], 1.0);
  EXPECT_DOUBLE_EQ(y[1], 0.5);
  EXPECT_DOUBLE_EQ(y[3], 0.125);
}

TEST(Filtfilt, ZeroPhaseAndRemovesDc) {
  const int n = 4000;
  std::vector<float> x(n);
  for (int t = 0; t < n; ++t) {
    x[t] = static_cast<float>(0.3 + 0.5 * std::sin(2 * std::numbers::pi * 440 * t / 16000.0));
  }
  const std::vector<double> y = filtfilt(rvc_highpass_16k(), x.data(), n);
  ASSERT_EQ(y.size(), static_cast<size_t>(n));
  // Away from the edges the 440 Hz tone passes with no phase shift and the offset is gone.
  for (int t = 1500; t < 2500; ++t) {
    EXPECT_NEAR(y[t], 0.5 * std::sin(2 * std::numbers::pi * 440 * t / 16000.0), 2e-3) << t;
  }
  EXPECT_THROW(filtfilt(rvc_highpass_16k(), x.data(), 18), Error);  // must exceed padlen 18
}

TEST(Medfilt, ZeroPaddedLikeScipy) {
  const std::vector<double> x = {5, 1, 7, 3, 9};
  const std::vector<double> y = medfilt(x.data(), 5, 3);
  const std::vector<double> want = {1, 5, 3, 7, 3};  // edges see a zero neighbour
  EXPECT_EQ(y, want);
  EXPECT_THROW(medfilt(x.data(), 5, 2), Error);
}

TEST(FrameRms, CenteredFramesWithZeroPadding) {
  const std::vector<double> y(10, 2.0);
  const std::vector<double> r = frame_rms(y.data(), 10, 4, 2);
  ASSERT_EQ(r.size(), 6u);                     // 1 + (10 + 4 - 4) / 2
  EXPECT_DOUBLE_EQ(r[0], std::sqrt(8.0 / 4));  // two padded zeros, two samples of 2
  EXPECT_DOUBLE_EQ(r[2], 2.0);
  const std::vector<float> yf(10, 2.0f);
  const std::vector<float> rf = frame_rms(yf.data(), 10, 4, 2);
  EXPECT_FLOAT_EQ(rf[0], std::sqrt(2.0f));
  EXPECT_THROW(frame_rms(y.data(), 10, 0, 2), Error);
}

TEST(InterpLinear, TorchAlignCornersFalse) {
  const std::vector<double> x = {0.0, 1.0};
  const std::vector<double> y = interp_linear(x.data(), 2, 4);
  // src = (i + 0.5) * 0.5 - 0.5 = -0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped to last).
  const std::vector<double> want = {0.0, 0.25, 0.75, 1.0};
  ASSERT_EQ(y.size(), want.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_DOUBLE_EQ(y[i], want[i]);
  EXPECT_THROW(interp_linear(x.data(), 0, 4), Error);
}

TEST(ChangeRms, MixesLoudness) {
  // Input twice as loud as the output: rate 0 copies the input's envelope, rate 1 keeps it.
  const std::vector<double> in(16000, 0.5);
  std::vector<float> out(40000, 0.25f);
  std::vector<float> keep = out;
  change_rms(in.data(), 16000, 16000, out.data(), 40000, 40000, 0.0);
  change_rms(in.data(), 16000, 16000, keep.data(), 40000, 40000, 1.0);
  // Mid-signal, where both envelopes are flat (edges see the zero padding of librosa's frames).
  EXPECT_NEAR(out[20000], 0.5f, 1e-6);
  EXPECT_NEAR(keep[20000], 0.25f, 1e-6);
  EXPECT_THROW(change_rms(in.data(), 16000, 1, out.data(), 40000, 40000, 0.5), Error);
}

}  // namespace
}  // namespace rvc::dsp
