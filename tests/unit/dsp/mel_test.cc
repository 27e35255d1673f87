#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/mel.h"
#include "rvc/dsp/pitch_decode.h"

namespace rvc::dsp {
namespace {

TEST(MelScale, RoundTripsBothScales) {
  for (bool htk : {true, false}) {
    for (double hz : {0.0, 30.0, 440.0, 999.0, 1000.0, 4000.0, 8000.0}) {
      EXPECT_NEAR(mel_to_hz(hz_to_mel(hz, htk), htk), hz, 1e-9 * (1 + hz));
    }
  }
  EXPECT_NEAR(hz_to_mel(700.0, true), 2595.0 * std::log10(2.0), 1e-12);
  EXPECT_NEAR(hz_to_mel(1000.0, false), 15.0, 1e-12);
}

TEST(MelFilterbank, ShapeSupportAndSlaneyNorm) {
  MelConfig cfg;  // RMVPE's settings
  const Tensor w = mel_filterbank(cfg);
  ASSERT_EQ(w.shape(), (Shape{128, 513}));
  const double bin_hz = 16000.0 / 1024;
  for (int m = 0; m < 128; ++m) {
    // Each triangle sits between its neighbouring mel points; slaney norm makes the area of the
    // continuous triangle 1, so sum(weights) * bin_hz is close to 1 for wide filters.
    const double mel_lo = hz_to_mel(30, true), mel_hi = hz_to_mel(8000, true);
    const double lo = mel_to_hz(mel_lo + m * (mel_hi - mel_lo) / 129, true);
    double area = 0;
    for (int k = 0; k < 513; ++k) {
      const float v = w[m * 513 + k];
      EXPECT_GE(v, 0.0f);
      if (v > 0) {
        EXPECT_GT(k * bin_hz, lo - 1e-9);
      }
      area += v * bin_hz;
    }
    if (m > 40) {
      EXPECT_NEAR(area, 1.0, 0.05) << m;
    }
  }
}

TEST(MelFilterbank, RejectsBadConfig) {
  MelConfig cfg;
  cfg.fmin_hz = 9000;
  EXPECT_THROW(mel_filterbank(cfg), Error);
  cfg = MelConfig{};
  cfg.n_mels = 0;
  EXPECT_THROW(mel_filterbank(cfg), Error);
}

TEST(LogMel, SilenceHitsClampAndShapeFollowsHop) {
  const LogMelSpectrogram mel;
  const std::vector<float> silence(16000, 0.0f);
  const Tensor out = mel.compute(silence.data(), 16000);
  ASSERT_EQ(out.shape(), (Shape{128, 101}));
  for (int64_t i = 0; i < out.numel(); ++i) EXPECT_FLOAT_EQ(out[i], std::log(1e-5f));
}

TEST(LogMel, ToneRaisesItsBand) {
  const LogMelSpectrogram mel;
  std::vector<float> x(8000);
  for (size_t t = 0; t < x.size(); ++t) x[t] = 0.5f * std::sin(2 * 3.14159265 * 1000 * t / 16000);
  const Tensor out = mel.compute(x.data(), 8000);
  const int64_t frames = out.dim(1);
  const int64_t mid = frames / 2;
  int best = 0;
  for (int m = 1; m < 128; ++m) {
    if (out[m * frames + mid] > out[best * frames + mid]) best = m;
  }
  // The 1 kHz band centre in HTK mels between 30 Hz and 8 kHz.
  const double pos = (hz_to_mel(1000, true) - hz_to_mel(30, true)) /
                         (hz_to_mel(8000, true) - hz_to_mel(30, true)) * 129 -
                     1;
  EXPECT_NEAR(best, pos, 1.5);
}

TEST(RmvpeDecode, WeightedAverageAroundPeakAndThreshold) {
  const int bins = 360;
  std::vector<float> sal(3 * bins, 0.0f);
  // Frame 0: a symmetric peak at bin 100 -> exactly bin 100's cents.
  sal[100] = 0.5f;
  sal[99] = 0.25f;
  sal[101] = 0.25f;
  // Frame 1: below threshold -> 0.
  sal[bins + 200] = 0.03f;
  // Frame 2: peak at the edge (bin 0); the window is padded with zeros.
  sal[2 * bins + 0] = 0.8f;
  sal[2 * bins + 1] = 0.2f;
  const auto f0 = rmvpe_decode(sal.data(), 3, bins, 0.03f);
  ASSERT_EQ(f0.size(), 3u);
  EXPECT_NEAR(f0[0], 10 * std::pow(2.0, (kRmvpeCents0 + 2000) / 1200), 1e-9);
  EXPECT_EQ(f0[1], 0.0);
  EXPECT_NEAR(f0[2], 10 * std::pow(2.0, (kRmvpeCents0 + 0.2 * 20 / 1.0) / 1200), 1e-3);
  EXPECT_THROW(rmvpe_decode(sal.data(), 1, 0), Error);
}

}  // namespace
}  // namespace rvc::dsp
