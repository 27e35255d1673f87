#include "rvc/dsp/f0.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"

namespace rvc::dsp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Signal whose instantaneous frequency is f(t); shape 0 = sine, 1 = band-limited-ish sawtooth
// (10 harmonics), 2 = a naive sawtooth (all harmonics, aliased).
template <typename F>
std::vector<float> make_tone(int sr, double seconds, F freq_at, int shape, float amp = 0.5f) {
  const int64_t n = static_cast<int64_t>(seconds * sr);
  std::vector<float> x(static_cast<size_t>(n));
  double phase = 0.0;  // cycles
  for (int64_t i = 0; i < n; ++i) {
    const double f = freq_at(static_cast<double>(i) / sr);
    double v = 0.0;
    if (shape == 0) {
      v = std::sin(2 * kPi * phase);
    } else if (shape == 1) {
      for (int h = 1; h <= 10 && h * f < sr / 2.0; ++h) v += std::sin(2 * kPi * h * phase) / h;
      v *= 0.6;
    } else {
      v = 2.0 * (phase - std::floor(phase)) - 1.0;
    }
    x[static_cast<size_t>(i)] = static_cast<float>(amp * v);
    phase += f / sr;
  }
  return x;
}

struct ToneCase {
  int sr;
  double f0;
  int shape;
};

class F0Tones : public ::testing::TestWithParam<ToneCase> {};

TEST_P(F0Tones, SteadyToneWithinOnePercent) {
  const auto p = GetParam();
  const auto x = make_tone(
      p.sr, 1.0, [&](double) { return p.f0; }, p.shape);
  F0Config cfg;
  cfg.sample_rate = p.sr;
  const auto f0 = estimate_f0(x, cfg);
  const int hop = cfg.hop_samples();
  ASSERT_EQ(f0.size(), x.size() / static_cast<size_t>(hop) + 1);
  int checked = 0;
  // Skip frames whose window touches the zero padding at either end.
  for (size_t i = 5; i + 5 < f0.size(); ++i) {
    ASSERT_GT(f0[i], 0.0f) << "frame " << i << " unvoiced";
    EXPECT_NEAR(f0[i], p.f0, 0.01 * p.f0) << "frame " << i;
    ++checked;
  }
  EXPECT_GT(checked, 80);
}

INSTANTIATE_TEST_SUITE_P(Tones, F0Tones,
                         ::testing::Values(ToneCase{16000, 55.0, 0}, ToneCase{16000, 100.0, 0},
                                           ToneCase{16000, 220.0, 1}, ToneCase{16000, 440.0, 0},
                                           ToneCase{16000, 1000.0, 0}, ToneCase{16000, 130.0, 2},
                                           ToneCase{16000, 87.3, 1}, ToneCase{44100, 196.0, 1},
                                           ToneCase{48000, 310.0, 2}, ToneCase{8000, 150.0, 1}));

TEST(F0, FrameCountMatchesUpstreamGrid) {
  for (int64_t n : {0, 1, 159, 160, 161, 16000, 16001}) {
    std::vector<float> x(static_cast<size_t>(n), 0.0f);
    EXPECT_EQ(estimate_f0(x).size(), static_cast<size_t>(n / 160 + 1)) << n;
  }
}

TEST(F0, GlideIsTracked) {
  // Exponential glide 100 -> 400 Hz over 2 s.
  auto freq = [](double t) { return 100.0 * std::pow(4.0, t / 2.0); };
  const auto x = make_tone(16000, 2.0, freq, 1);
  const auto f0 = estimate_f0(x);
  int bad = 0, n = 0;
  for (size_t i = 5; i + 5 < f0.size(); ++i) {
    const double want = freq(i * 0.01);
    ++n;
    if (!(std::abs(f0[i] - want) < 0.02 * want)) ++bad;
  }
  EXPECT_EQ(bad, 0) << "of " << n << " frames";
}

TEST(F0, SilenceIsUnvoiced) {
  std::vector<float> x(16000, 0.0f);
  for (float f : estimate_f0(x)) EXPECT_EQ(f, 0.0f);
  std::vector<float> quiet(16000);
  for (size_t i = 0; i < quiet.size(); ++i) quiet[i] = 1e-5f * std::sin(0.1f * i);
  for (float f : estimate_f0(quiet)) EXPECT_EQ(f, 0.0f);
}

TEST(F0, WhiteNoiseIsMostlyUnvoiced) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> g(0.0f, 0.2f);
  std::vector<float> x(32000);
  for (auto& v : x) v = g(rng);
  const auto f0 = estimate_f0(x);
  int voiced = 0;
  for (float f : f0) voiced += f > 0.0f;
  EXPECT_LT(voiced, static_cast<int>(f0.size() / 10)) << voiced << " of " << f0.size();
}

TEST(F0, VoicedThenSilenceThenVoiced) {
  auto x = make_tone(
      16000, 1.5, [](double) { return 180.0; }, 1);
  for (size_t i = 8000; i < 16000; ++i) x[i] = 0.0f;
  const auto f0 = estimate_f0(x);
  EXPECT_GT(f0[20], 0.0f);
  EXPECT_EQ(f0[75], 0.0f);
  EXPECT_GT(f0[130], 0.0f);
}

TEST(F0, MedianFilterRemovesSpikes) {
  std::vector<float> t = {100, 100, 200, 100, 100, 0, 0, 150, 0, 0};
  median_filter(t, 1);
  EXPECT_EQ(t, (std::vector<float>{100, 100, 100, 100, 100, 0, 0, 0, 0, 0}));
}

TEST(F0, ShiftBySemitones) {
  std::vector<float> f = {100.0f, 0.0f, 440.0f};
  shift_f0(f, 12);
  EXPECT_FLOAT_EQ(f[0], 200.0f);
  EXPECT_EQ(f[1], 0.0f);
  shift_f0(f, -7);
  EXPECT_NEAR(f[2], 880.0 * std::pow(2.0, -7.0 / 12.0), 1e-3);
}

TEST(F0, CoarseQuantisationMatchesUpstreamFormula) {
  EXPECT_EQ(f0_to_coarse(0.0), 1);   // unvoiced
  EXPECT_EQ(f0_to_coarse(50.0), 1);  // mel_min -> 1
  EXPECT_EQ(f0_to_coarse(30.0), 1);  // below range clips
  EXPECT_EQ(f0_to_coarse(1100.0), 255);
  EXPECT_EQ(f0_to_coarse(5000.0), 255);
  // Independent evaluation of the formula for a few values.
  for (double f : {60.0, 100.0, 155.5, 220.0, 440.0, 870.0}) {
    const double lo = 1127 * std::log(1 + 50 / 700.0), hi = 1127 * std::log(1 + 1100 / 700.0);
    const double m = (1127 * std::log(1 + f / 700) - lo) * 254 / (hi - lo) + 1;
    EXPECT_EQ(f0_to_coarse(f), static_cast<int64_t>(std::nearbyint(m))) << f;
  }
  // Monotone non-decreasing over the range.
  int64_t prev = 1;
  for (double f = 50; f <= 1100; f += 0.5) {
    const int64_t c = f0_to_coarse(f);
    EXPECT_GE(c, prev);
    prev = c;
  }
  const auto v = f0_to_coarse(std::vector<float>{0.0f, 100.0f, 2000.0f});
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], 1);
  EXPECT_EQ(v[2], 255);
}

// Upstream's own numbers: every pipeline case stores the shifted f0 (infer_pitchf_K, float32)
// and the coarse pitch upstream made from it (infer_pitch_K). Driven by the manifests.
TEST(F0, CoarseMatchesUpstreamPipelineFixtures) {
  std::vector<test::Case> cases;
  try {
    cases = test::cases_of_kind("pipeline");
  } catch (const Error& e) {
    GTEST_SKIP() << e.what();
  }
  int compared = 0;
  for (const auto& c : cases) {
    for (const auto& [key, out] : c.manifest["outputs"].items()) {
      if (key.rfind("infer_pitchf_", 0) != 0) continue;
      const std::string coarse_key = "infer_pitch_" + key.substr(13);
      if (!c.manifest["outputs"].contains(coarse_key)) continue;
      const auto f0 = formats::read_npy(c.file(out["file"]).string()).to_tensor();
      const auto want =
          formats::read_npy(c.file(c.manifest["outputs"][coarse_key]["file"]).string()).to_int64();
      ASSERT_EQ(static_cast<size_t>(f0.numel()), want.size()) << c.name << " " << key;
      int off_by_one = 0;
      for (int64_t i = 0; i < f0.numel(); ++i) {
        const int64_t got = f0_to_coarse(static_cast<double>(f0[i]));
        // pitchf was stored as float32; a value right at a .5 boundary may round the other way.
        ASSERT_LE(std::abs(got - want[static_cast<size_t>(i)]), 1) << c.name << " frame " << i;
        off_by_one += got != want[static_cast<size_t>(i)];
      }
      EXPECT_LE(off_by_one, f0.numel() / 100 + 1) << c.name << " " << key;
      ++compared;
    }
  }
  if (compared == 0) GTEST_SKIP() << "no pipeline case with infer_pitch/infer_pitchf outputs";
}

TEST(F0, MedianVoiced) {
  EXPECT_EQ(median_voiced_f0({0, 0}), 0.0);
  EXPECT_EQ(median_voiced_f0({0, 100, 300, 200, 0}), 200.0);
}

TEST(F0, RejectsBadConfig) {
  F0Config c;
  c.f0_min_hz = 0;
  EXPECT_THROW(c.validate(), Error);
  c = F0Config{};
  c.sample_rate = 100;
  EXPECT_THROW(YinAnalyzer{c}, Error);
  c = F0Config{};
  c.threshold = 2;
  EXPECT_THROW(estimate_f0(std::vector<float>(10), c), Error);
}

}  // namespace
}  // namespace rvc::dsp
