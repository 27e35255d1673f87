#include "rvc/dsp/voice_changer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/f0.h"
#include "support/audio_checks.h"

// Counts heap allocations so the test can prove process() allocates nothing. GCC sees malloc in
// the replaced new and free in the replaced delete and flags them as mismatched; they match.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<int64_t> g_allocs{0};
}
void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace rvc::dsp {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A vowel-like voiced signal: a glottal pulse train (f0 with slow vibrato) through three
// formant resonators (two-pole filters), normalised to 0.5 peak.
std::vector<float> make_vowel(int sr, double seconds, double f0, double f1 = 700, double f2 = 1220,
                              double f3 = 2600) {
  const int64_t n = static_cast<int64_t>(seconds * sr);
  std::vector<double> e(static_cast<size_t>(n), 0.0);
  double phase = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double f = f0 * (1.0 + 0.02 * std::sin(2 * kPi * 3.0 * i / sr));
    phase += f / sr;
    // Smooth glottal flow derivative: a negative raised-cosine pulse once per period.
    const double ph = phase - std::floor(phase);
    e[static_cast<size_t>(i)] = ph < 0.1 ? -std::sin(kPi * ph / 0.1) : 0.0;
  }
  for (double fc : {f1, f2, f3}) {
    const double bw = 80.0 + fc * 0.05;
    const double r = std::exp(-kPi * bw / sr), th = 2 * kPi * fc / sr;
    double y1 = 0, y2 = 0;
    for (auto& v : e) {
      const double y = (1 - r) * v + 2 * r * std::cos(th) * y1 - r * r * y2;
      y2 = y1;
      y1 = y;
      v = y;
    }
  }
  double peak = 1e-9;
  for (double v : e) peak = std::max(peak, std::abs(v));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = static_cast<float>(0.5 * e[i] / peak);
  return x;
}

// Minimal reader for the committed 16-bit PCM mono sample (keeps this test free of libsndfile).
std::vector<float> read_sample_wav(int* sr) {
  const std::string path = std::string(RVC_SOURCE_DIR) + "/assets/sample.wav";
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<unsigned char> b;
  unsigned char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + got);
  std::fclose(f);
  auto u32 = [&](size_t o) {
    return b[o] | b[o + 1] << 8 | b[o + 2] << 16 | uint32_t(b[o + 3]) << 24;
  };
  std::vector<float> x;
  for (size_t o = 12; o + 8 <= b.size();) {
    const uint32_t len = u32(o + 4);
    if (std::memcmp(&b[o], "fmt ", 4) == 0) *sr = static_cast<int>(u32(o + 12));
    if (std::memcmp(&b[o], "data", 4) == 0) {
      for (size_t i = o + 8; i + 1 < b.size() && i < o + 8 + len; i += 2) {
        x.push_back(static_cast<int16_t>(b[i] | b[i + 1] << 8) / 32768.0f);
      }
      break;
    }
    o += 8 + len + (len & 1);
  }
  return x;
}

void expect_sane(const std::vector<float>& x, const std::vector<float>& y) {
  ASSERT_EQ(x.size(), y.size());
  for (float v : y) {
    ASSERT_TRUE(std::isfinite(v));
    ASSERT_LE(std::abs(v), 1.0f);
  }
}

double spectral_centroid(const std::vector<float>& x, int sr) {
  // Plain DFT over a few 1024-sample Hann frames is enough here.
  const int n = 1024;
  double num = 0, den = 0;
  for (size_t start = x.size() / 4; start + n < x.size() * 3 / 4; start += 4096) {
    for (int k = 1; k < n / 2; ++k) {
      double re = 0, im = 0;
      for (int i = 0; i < n; ++i) {
        const double w = 0.5 - 0.5 * std::cos(2 * kPi * i / n);
        re += w * x[start + i] * std::cos(2 * kPi * k * i / n);
        im -= w * x[start + i] * std::sin(2 * kPi * k * i / n);
      }
      const double p = re * re + im * im;
      num += p * k * sr / n;
      den += p;
    }
  }
  return num / den;
}

double correlation(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}

std::vector<float> stream(const std::vector<float>& x, const VoiceChangerConfig& cfg,
                          int64_t block) {
  VoiceChanger vc(cfg);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += static_cast<size_t>(block)) {
    const int64_t n = std::min<int64_t>(block, static_cast<int64_t>(x.size() - i));
    vc.process(x.data() + i, y.data() + i, n);
  }
  return y;
}

class PitchShift : public ::testing::TestWithParam<double> {};

TEST_P(PitchShift, SyntheticVowelMovesBySemitones) {
  const double st = GetParam();
  for (int sr : {16000, 22050, 44100, 48000}) {
    const auto x = make_vowel(sr, 2.0, 140.0);
    const auto y = change_voice(x, sr, {st, 0.0});
    expect_sane(x, y);
    const double want = std::pow(2.0, st / 12.0);
    EXPECT_NEAR(test::median_f0_ratio(x, y, sr), want, 0.02 * want) << "sr " << sr;
  }
}

TEST_P(PitchShift, SpeechSampleMovesBySemitones) {
  int sr = 0;
  const auto x = read_sample_wav(&sr);
  ASSERT_GT(x.size(), 16000u) << "assets/sample.wav missing or unreadable";
  const double st = GetParam();
  const auto y = change_voice(x, sr, {st, 0.0});
  expect_sane(x, y);
  const double want = std::pow(2.0, st / 12.0);
  EXPECT_NEAR(test::median_f0_ratio(x, y, sr), want, 0.02 * want);
}

INSTANTIATE_TEST_SUITE_P(Semitones, PitchShift, ::testing::Values(4.0, 7.0, -5.0, 12.0, -12.0));

TEST(VoiceChanger, FormantShiftMovesEnvelopeNotPitch) {
  const int sr = 16000;
  const auto x = make_vowel(sr, 2.0, 130.0, 500, 1000, 2400);
  const auto up = change_voice(x, sr, {0.0, 5.0});
  const auto down = change_voice(x, sr, {0.0, -5.0});
  expect_sane(x, up);
  expect_sane(x, down);
  const double c0 = spectral_centroid(x, sr), cu = spectral_centroid(up, sr),
               cd = spectral_centroid(down, sr);
  EXPECT_GT(cu, c0 * 1.15) << c0 << " -> " << cu;
  EXPECT_LT(cd, c0 / 1.15) << c0 << " -> " << cd;
  EXPECT_NEAR(test::median_f0_ratio(x, up, sr), 1.0, 0.02);
  EXPECT_NEAR(test::median_f0_ratio(x, down, sr), 1.0, 0.02);
}

TEST(VoiceChanger, ZeroShiftIsNearIdentity) {
  int sr = 0;
  const auto speech = read_sample_wav(&sr);
  ASSERT_FALSE(speech.empty());
  for (const auto& x : {speech, make_vowel(16000, 1.0, 180.0)}) {
    const auto y = change_voice(x, 16000, {0.0, 0.0});
    expect_sane(x, y);
    EXPECT_GT(correlation(x, y), 0.99);
  }
}

TEST(VoiceChanger, BlockSizeIndependent) {
  int sr = 0;
  auto x = read_sample_wav(&sr);
  ASSERT_FALSE(x.empty());
  x.resize(40000);
  VoiceChangerConfig cfg;
  cfg.sample_rate = sr;
  cfg.params = {5.0, 3.0};
  const auto a = stream(x, cfg, 4096);
  for (int64_t block : {1, 256, 777, 100000}) {
    const auto b = stream(x, cfg, block);
    float max_diff = 0;
    for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    EXPECT_LT(max_diff, 1e-6f) << "block " << block;
  }
}

// The latency bound must hold in the worst corners: lowest f0, largest shifts both ways, rates
// whose 10 ms hop does not divide evenly. Late grain samples would mean output emitted too soon.
TEST(VoiceChanger, ExtremeSettingsStayInsideTheLatency) {
  for (int sr : {8000, 16000, 44100}) {
    const auto x = make_vowel(sr, 1.0, 55.0, 400, 900, 2200);
    for (VoiceParams p :
         {VoiceParams{-24, -12}, VoiceParams{24, 12}, VoiceParams{-24, 12}, VoiceParams{24, -12}}) {
      VoiceChangerConfig cfg;
      cfg.sample_rate = sr;
      cfg.params = p;
      VoiceChanger a(cfg), b(cfg);
      std::vector<float> ya(x.size()), yb(x.size());
      a.process(x.data(), ya.data(), static_cast<int64_t>(x.size()));
      for (size_t i = 0; i < x.size(); ++i) b.process(&x[i], &yb[i], 1);
      EXPECT_EQ(a.late_samples(), 0)
          << sr << " " << p.pitch_semitones << " " << p.formant_semitones;
      EXPECT_EQ(b.late_samples(), 0);
      EXPECT_EQ(ya, yb) << sr << " " << p.pitch_semitones << " " << p.formant_semitones;
      expect_sane(x, ya);
    }
  }
}

TEST(VoiceChanger, LatencyIsFixedAndCompensated) {
  VoiceChangerConfig cfg;
  VoiceChanger vc(cfg);
  EXPECT_GT(vc.latency(), 0);
  EXPECT_LT(vc.latency(), cfg.sample_rate / 5);  // < 200 ms
  // An impulse-free constant signal: the first latency() outputs are silent.
  std::vector<float> x(8000, 0.25f), y(8000, 1.0f);
  vc.process(x.data(), y.data(), 8000);
  for (int64_t i = 0; i < vc.latency(); ++i) ASSERT_EQ(y[static_cast<size_t>(i)], 0.0f) << i;
  cfg.sample_rate = 48000;
  VoiceChanger vc48(cfg);
  EXPECT_NEAR(static_cast<double>(vc48.latency()) / 48000,
              static_cast<double>(vc.latency()) / 16000, 0.005);
}

TEST(VoiceChanger, ProcessDoesNotAllocate) {
  VoiceChangerConfig cfg;
  cfg.params = {7.0, -3.0};
  VoiceChanger vc(cfg);
  const auto x = make_vowel(16000, 1.0, 150.0);
  std::vector<float> y(x.size());
  const int64_t before = g_allocs.load();
  for (size_t i = 0; i + 300 <= x.size(); i += 300) {
    vc.process(x.data() + i, y.data() + i, 300);
    vc.set_pitch(i % 600 ? -4.0 : 9.0);
    vc.set_formant(i % 900 ? 2.0 : -2.0);
  }
  EXPECT_EQ(g_allocs.load() - before, 0);
}

TEST(VoiceChanger, ParameterChangesDoNotClick) {
  const int sr = 16000;
  const auto x = make_vowel(sr, 3.0, 150.0);
  VoiceChangerConfig cfg;
  VoiceChanger vc(cfg);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); i += 512) {
    const int64_t n = std::min<int64_t>(512, static_cast<int64_t>(x.size() - i));
    // Jump between far-apart settings every 0.5 s.
    if (i % 8192 == 0) {
      const bool hi = (i / 8192) % 2;
      vc.set_pitch(hi ? 9.0 : -6.0);
      vc.set_formant(hi ? 4.0 : -4.0);
    }
    vc.process(x.data() + i, y.data() + i, n);
  }
  // A click is a sample-to-sample jump far above what the signal itself does.
  float max_dx = 0, max_dy = 0;
  for (size_t i = 1; i < x.size(); ++i) {
    max_dx = std::max(max_dx, std::abs(x[i] - x[i - 1]));
    max_dy = std::max(max_dy, std::abs(y[i] - y[i - 1]));
  }
  EXPECT_LT(max_dy, 2.0f * max_dx) << max_dx;
}

// Clicks show up as isolated spikes of the second difference. Its crest factor (peak / rms) on
// the converted speech must stay close to the input's.
TEST(VoiceChanger, SpeechHasNoClicks) {
  int sr = 0;
  const auto x = read_sample_wav(&sr);
  ASSERT_FALSE(x.empty());
  auto crest = [](const std::vector<float>& y) {
    double peak = 0, sum = 0;
    for (size_t i = 2; i < y.size(); ++i) {
      const double d = y[i] - 2.0 * y[i - 1] + y[i - 2];
      peak = std::max(peak, std::abs(d));
      sum += d * d;
    }
    return peak / std::sqrt(sum / static_cast<double>(y.size()) + 1e-30);
  };
  const double c_in = crest(x);
  for (VoiceParams p :
       {VoiceParams{-12, 0}, VoiceParams{5, 0}, VoiceParams{12, -6}, VoiceParams{-5, 6}}) {
    EXPECT_LT(crest(change_voice(x, sr, p)), 1.6 * c_in)
        << p.pitch_semitones << " " << p.formant_semitones;
  }
}

TEST(VoiceChanger, SilenceInSilenceOut) {
  std::vector<float> x(20000, 0.0f);
  const auto y = change_voice(x, 16000, {12.0, 12.0});
  for (float v : y) ASSERT_EQ(v, 0.0f);
  EXPECT_TRUE(change_voice({}, 16000, {3.0, 0.0}).empty());
}

TEST(VoiceChanger, NonFiniteInputIsTreatedAsSilence) {
  auto x = make_vowel(16000, 1.0, 120.0);
  for (size_t i = 4000; i < 4100; ++i) x[i] = std::nanf("");
  x[9000] = INFINITY;
  const auto y = change_voice(x, 16000, {3.0, 2.0});
  expect_sane(x, y);
  for (float f : estimate_f0(x)) EXPECT_TRUE(std::isfinite(f));
}

TEST(VoiceChanger, RejectsBadSettings) {
  EXPECT_THROW(change_voice({0.0f}, 16000, {30.0, 0.0}), Error);
  EXPECT_THROW(change_voice({0.0f}, 16000, {0.0, -13.0}), Error);
  EXPECT_THROW(change_voice({0.0f}, 1000, {0.0, 0.0}), Error);
  VoiceChangerConfig cfg;
  cfg.f0_min_hz = 5.0;
  EXPECT_THROW(VoiceChanger{cfg}, Error);
  VoiceChanger vc(VoiceChangerConfig{});
  vc.set_pitch(99.0);
  EXPECT_EQ(vc.pitch(), 24.0);
  vc.set_formant(std::nan(""));
  EXPECT_EQ(vc.formant(), 0.0);
}

}  // namespace
}  // namespace rvc::dsp
