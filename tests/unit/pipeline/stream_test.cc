// Stream: no allocation in process() (global operator new is replaced by a counting one),
// SOLA alignment and latency accounting with a jittering test backend, the built-in voice's delay
// and hot parameter changes, the silence gate, noise suppression switched while running, and
// config validation.
#include "rvc/pipeline/stream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/f0.h"
#include "support/audio_checks.h"
#include "support/error_of.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocs{0};

void* counted_alloc(std::size_t n, std::size_t align) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1);
  if (n == 0) n = 1;
  void* p = align > alignof(std::max_align_t)
                ? std::aligned_alloc(align, (n + align - 1) / align * align)
                : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

// Every replaceable allocation form funnels into counted_alloc.
void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(n, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace rvc::pipeline {
namespace {

std::vector<float> noise(int64_t n, uint32_t seed, float sd = 0.2f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> s(static_cast<size_t>(n));
  for (auto& v : s) v = std::clamp(d(rng), -0.9f, 0.9f);
  return s;
}

std::vector<float> harmonic(int64_t n, double f0, int sr, float amp = 0.3f) {
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double v = 0.0;
    for (int h = 1; h <= 5; ++h) v += std::sin(2 * M_PI * h * f0 * i / sr) / h;
    s[static_cast<size_t>(i)] = static_cast<float>(amp * v / 2.3);
  }
  return s;
}

// A voiced sound whose f0 glides from f0a to f0b (so the delay to it is unambiguous).
std::vector<float> glide(int64_t n, double f0a, double f0b, int sr) {
  std::vector<float> s(static_cast<size_t>(n));
  double phase = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    phase += 2 * M_PI * (f0a + (f0b - f0a) * static_cast<double>(i) / static_cast<double>(n)) / sr;
    double v = 0.0;
    for (int h = 1; h <= 5; ++h) v += std::sin(h * phase) / h;
    s[static_cast<size_t>(i)] = static_cast<float>(0.3 * v / 2.3);
  }
  return s;
}

// Runs x (trimmed to whole blocks) through the stream block by block.
std::vector<float> run(Stream& s, const std::vector<float>& x) {
  const int64_t b = s.block_frames(), n = static_cast<int64_t>(x.size()) / b * b;
  std::vector<float> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += b) s.process(x.data() + i, y.data() + i);
  return y;
}

// A block-wise (non-continuous) voice: the window's tail, returned up to `search` samples early
// by a pseudo-random jitter (0 on the first block), as an independently inferred block would be.
class JitterBackend final : public VoiceBackend {
 public:
  std::string describe() const override { return "jitter test backend"; }
  bool continuous() const override { return false; }
  void prepare(const StreamGeometry& g, const StreamParams&) override { g_ = g; }
  int64_t window_frames(const StreamGeometry& g) const override {
    return g.infer_frames() + g.search;
  }
  int64_t latency_frames() const override { return 0; }
  void infer(const float* window, float* out, const StreamParams&) override {
    const int64_t j =
        first_ ? 0 : static_cast<int64_t>(rng_() % static_cast<uint32_t>(g_.search + 1));
    first_ = false;
    const int64_t w = g_.infer_frames() + g_.search, n = g_.infer_frames();
    for (int64_t i = 0; i < n; ++i) out[i] = window[w - n - j + i];
  }
  void reset() override { first_ = true; }

 private:
  StreamGeometry g_;
  std::mt19937 rng_{7};
  bool first_ = true;
};

TEST(Stream, ProcessNeverAllocatesAfterWarmUp) {
  StreamConfig c;
  c.sample_rate = 48000;
  c.block_ms = 20;
  c.params.threshold_db = -50;  // gate on: its path runs too
  c.params.noise_suppression = dsp::NoiseLevel::kModerate;
  Stream s(c, make_builtin_backend());
  const auto x = harmonic(48000 * 2, 140.0, 48000);
  std::vector<float> y(static_cast<size_t>(s.block_frames()));
  const int64_t b = s.block_frames();
  for (int i = 0; i < 5; ++i) s.process(x.data() + i * b, y.data());  // warm-up
  StreamParams p = c.params;
  int64_t allocs = 0;
  for (int64_t i = 5; (i + 1) * b <= static_cast<int64_t>(x.size()); ++i) {
    if (i % 10 == 0) {  // parameter changes between blocks (outside the counted region)
      p.pitch_semitones = static_cast<double>(i % 24) - 12;
      p.output_gain_db = -static_cast<double>(i % 7);
      p.noise_suppression = static_cast<dsp::NoiseLevel>((i / 10) % 5);  // on, off, levels
      s.set_params(p);
    }
    g_allocs = 0;
    g_counting = true;
    s.process(x.data() + i * b, y.data());
    g_counting = false;
    allocs += g_allocs;
  }
  EXPECT_EQ(allocs, 0) << "Stream::process allocated";
  // The counter works: an allocation inside the counted region is seen.
  g_allocs = 0;
  g_counting = true;
  auto* leak_check = new std::vector<float>(16);
  g_counting = false;
  delete leak_check;
  EXPECT_GE(g_allocs.load(), 1);
}

TEST(Stream, SolaRealignsJitteredBlocksToAConstantDelay) {
  StreamConfig c;
  c.sample_rate = 16000;
  c.block_ms = 50;
  c.crossfade_ms = 20;
  c.sola_search_ms = 10;
  Stream s(c, std::make_unique<JitterBackend>());
  const StreamLatency lat = s.latency();
  EXPECT_EQ(lat.block, 800);
  EXPECT_EQ(lat.crossfade, 320);
  EXPECT_EQ(lat.search, 160);
  EXPECT_EQ(lat.backend, 0);
  EXPECT_GT(lat.denoise, 0);  // the noise suppressor's delay, there even when it is off
  EXPECT_NEAR(s.latency_ms(), 80.0 + 1000.0 * static_cast<double>(lat.denoise) / 16000.0, 1e-9);
  const auto x = noise(16000 * 3, 11);
  const auto y = run(s, x);
  const int64_t d = s.latency_frames() - s.block_frames();  // delay through process()
  double max_err = 0.0;
  for (size_t t = static_cast<size_t>(2 * s.block_frames()); t < y.size(); ++t) {
    max_err =
        std::max(max_err, static_cast<double>(std::abs(y[t] - x[t - static_cast<size_t>(d)])));
  }
  EXPECT_LT(max_err, 1e-5);
}

// Lag in [0, max_lag] maximising the normalised cross-correlation of y against x.
int64_t best_lag(const std::vector<float>& x, const std::vector<float>& y, int64_t max_lag,
                 double* corr) {
  int64_t best = 0;
  *corr = -2.0;
  for (int64_t l = 0; l <= max_lag; ++l) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t t = static_cast<size_t>(l); t < y.size(); ++t) {
      const double a = x[t - static_cast<size_t>(l)], b = y[t];
      xy += a * b;
      xx += a * a;
      yy += b * b;
    }
    const double r = xy / std::sqrt(xx * yy + 1e-20);
    if (r > *corr) {
      *corr = r;
      best = l;
    }
  }
  return best;
}

TEST(Stream, BuiltinVoiceAtPitchZeroIsTheInputDelayedByTheReportedLatency) {
  StreamConfig c;
  c.sample_rate = 16000;
  c.block_ms = 30;
  Stream s(c, make_builtin_backend());
  EXPECT_EQ(s.latency().crossfade, 0);  // continuous backend: no SOLA windows
  EXPECT_EQ(s.latency().search, 0);
  EXPECT_GT(s.latency().backend, 0);
  const auto x = glide(16000 * 2, 120.0, 220.0, 16000);
  const auto y = run(s, x);
  double corr = 0;
  const int64_t lag = best_lag(x, y, s.latency_frames() + 400, &corr);
  EXPECT_EQ(lag, s.latency_frames() - s.block_frames());
  EXPECT_GT(corr, 0.98);
}

TEST(Stream, HotPitchChangeFromAnotherThreadTakesEffect) {
  StreamConfig c;
  c.sample_rate = 16000;
  c.block_ms = 20;
  Stream s(c, make_builtin_backend());
  const auto x = harmonic(16000 * 4, 150.0, 16000);
  const int64_t b = s.block_frames();
  std::vector<float> y(x.size(), 0.0f);
  std::atomic<int64_t> done{0};
  std::atomic<bool> sent{false};
  std::thread ui([&] {
    while (done.load() < static_cast<int64_t>(x.size()) / 4) std::this_thread::yield();
    StreamParams p;
    p.pitch_semitones = 7;
    s.set_params(p);
    sent = true;
  });
  for (int64_t i = 0; i + b <= static_cast<int64_t>(x.size()); i += b) {
    // A loaded machine may not run the UI thread for a while: the change must have been sent by
    // half-way so that the checked last second is well after it (the audio thread only waits
    // here, in the test).
    if (i >= static_cast<int64_t>(x.size()) / 2) {
      while (!sent.load()) std::this_thread::yield();
    }
    s.process(x.data() + i, y.data() + i);
    done = i + b;
  }
  ui.join();
  EXPECT_EQ(s.params().pitch_semitones, 7.0);
  dsp::F0Config fc;
  std::vector<float> tail(y.end() - 16000, y.end());
  const double f = dsp::median_voiced_f0(dsp::estimate_f0(tail, fc));
  EXPECT_NEAR(f, 150.0 * std::pow(2.0, 7.0 / 12.0), 5.0);
}

TEST(Stream, SilenceGateZeroesQuietInputAndPassesLoudInput) {
  StreamConfig c;
  c.sample_rate = 16000;
  c.block_ms = 20;
  c.params.threshold_db = -40;
  Stream s(c, make_builtin_backend());
  auto quiet = noise(16000, 3, 0.001f);  // about -60 dBFS
  const auto yq = run(s, quiet);
  double peak = 0;
  for (size_t t = yq.size() / 2; t < yq.size(); ++t) peak = std::max(peak, double(std::abs(yq[t])));
  EXPECT_LT(peak, 1e-6);
  const auto loud = harmonic(16000, 200.0, 16000);
  const auto yl = run(s, loud);
  double e = 0;
  for (size_t t = yl.size() / 2; t < yl.size(); ++t) e += double(yl[t]) * yl[t];
  EXPECT_GT(std::sqrt(e / double(yl.size() / 2)), 0.05);
}

TEST(Stream, ConfigValidationAndRounding) {
  StreamConfig c;
  c.sample_rate = 44100;
  c.block_ms = 104;
  EXPECT_EQ(c.block_frames(), 10 * 441);
  EXPECT_NO_THROW(c.validate());
  EXPECT_NE(c.to_string().find("block_ms = 104"), std::string::npos);
  EXPECT_NE(c.to_string().find("noise_suppression = off"), std::string::npos);
  auto bad = [](auto mutate) {
    StreamConfig k;
    mutate(k);
    EXPECT_THROW(k.validate(), Error);
  };
  bad([](StreamConfig& k) { k.sample_rate = 4000; });
  bad([](StreamConfig& k) { k.block_ms = 5; });
  bad([](StreamConfig& k) { k.crossfade_ms = 2000; });
  bad([](StreamConfig& k) { k.f0_method = "crepe"; });
  bad([](StreamConfig& k) { k.params.pitch_semitones = 30; });
  bad([](StreamConfig& k) { k.params.rms_mix = std::nan(""); });
  bad([](StreamConfig& k) { k.params.noise_suppression = static_cast<dsp::NoiseLevel>(5); });
  Stream s(StreamConfig{}, make_builtin_backend());
  StreamParams p;
  p.formant_semitones = 13;
  EXPECT_THROW(s.set_params(p), Error);
  EXPECT_EQ(s.params().formant_semitones, 0.0);
  StreamParams q;
  q.noise_suppression = static_cast<dsp::NoiseLevel>(-2);
  const std::string e = test::error_of([&] { s.set_params(q); });
  EXPECT_EQ(e.rfind("noise_suppression: ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  EXPECT_THROW(Stream(StreamConfig{}, nullptr), Error);
  StreamConfig long_fade;
  long_fade.crossfade_ms = 200;  // longer than the 100 ms block: refused where SOLA runs
  EXPECT_THROW(Stream(long_fade, std::make_unique<JitterBackend>()), Error);
  EXPECT_NO_THROW(Stream(long_fade, make_builtin_backend()));
}

// A voiced tone with vibrato under low-passed noise at 10 dB SNR, with pauses (noise only); the
// tone fades in and out over 20 ms so that its own edges are no steps.
std::vector<float> noisy_tone(int64_t n, int sr, int64_t on_frames, int64_t off_frames) {
  std::vector<float> x(static_cast<size_t>(n)), nz(x.size());
  std::mt19937 rng(21);
  std::normal_distribution<double> nd(0.0, 1.0);
  double phase = 0.0, lp1 = 0.0, lp2 = 0.0, ex = 0.0, en = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    phase += 2 * M_PI * 150.0 * (1.0 + 0.05 * std::sin(2 * M_PI * 5.0 * i / sr)) / sr;
    const int64_t u = i % (on_frames + off_frames), edge = sr / 50;
    const bool on = u < on_frames;
    const double env = on ? std::min({1.0, double(u) / edge, double(on_frames - u) / edge}) : 0.0;
    double v = 0.0;
    for (int h = 1; h <= 5; ++h) v += std::sin(h * phase) / h;
    x[size_t(i)] = static_cast<float>(env * 0.3 * v / 2.3);
    lp1 += 0.08 * (nd(rng) - lp1);  // two one-pole low-passes: a step stands out
    lp2 += 0.08 * (lp1 - lp2);
    nz[size_t(i)] = static_cast<float>(lp2);
    if (on) ex += double(x[size_t(i)]) * x[size_t(i)], en += lp2 * lp2;
  }
  const float g = static_cast<float>(std::sqrt(ex / en / 10.0));
  for (size_t i = 0; i < x.size(); ++i) x[i] += g * nz[i];
  return x;
}

// Noise suppression switched on and off through set_params while the stream runs: it works on
// the stream's input (the pauses get quieter), the latency never moves, and the blocks where it
// switches join as smoothly as the others.
TEST(Stream, NoiseSuppressionSwitchesWhileRunningWithoutAClick) {
  StreamConfig c;
  c.sample_rate = 48000;
  c.block_ms = 40;
  Stream s(c, make_builtin_backend());
  const int64_t b = s.block_frames(), sr = 48000, lat0 = s.latency_frames();
  const auto x = noisy_tone(sr * 16, sr, sr * 3 / 2, sr / 2);  // 1.5 s voiced, 0.5 s pause
  std::vector<float> y(x.size());
  std::vector<int64_t> switch_blocks;
  const dsp::NoiseLevel seq[] = {dsp::NoiseLevel::kHigh, dsp::NoiseLevel::kOff,
                                 dsp::NoiseLevel::kVeryHigh, dsp::NoiseLevel::kLow};
  // Suppression on from 2 s to 10 s (levels switched inside), then switched on and off quickly.
  for (int64_t k = 0; (k + 1) * b <= static_cast<int64_t>(x.size()); ++k) {
    const double t = double(k * b) / sr;
    StreamParams p = s.params();
    dsp::NoiseLevel want = p.noise_suppression;
    if (t >= 2.0 && t < 10.0) want = t < 6.0 ? dsp::NoiseLevel::kHigh : dsp::NoiseLevel::kVeryHigh;
    if (t >= 10.0) want = k % 9 == 0 ? seq[(k / 9) % 4] : want;
    if (t < 2.0) want = dsp::NoiseLevel::kOff;
    if (want != p.noise_suppression) {
      p.noise_suppression = want;
      s.set_params(p);
      switch_blocks.push_back(k);
    }
    s.process(x.data() + k * b, y.data() + k * b);
    ASSERT_EQ(s.latency_frames(), lat0);
  }
  const int64_t d = s.latency_frames() - b;  // delay through process()
  // Noise in the pause at 1.5-2.0 s (off) against the one at 7.5-8.0 s (on), 100 ms in from
  // each end, input measured at the same places.
  auto pause_db = [&](const std::vector<float>& v, double t0, int64_t shift) {
    double e = 0.0;
    const int64_t a = int64_t((t0 + 0.1) * sr) + shift, z = int64_t((t0 + 0.4) * sr) + shift;
    for (int64_t i = a; i < z; ++i) e += double(v[size_t(i)]) * v[size_t(i)];
    return 10.0 * std::log10(e / double(z - a) + 1e-20);
  };
  const double off_drop = pause_db(x, 1.5, 0) - pause_db(y, 1.5, d);
  const double on_drop = pause_db(x, 7.5, 0) - pause_db(y, 7.5, d);
  std::printf("pause noise through the stream: off %.1f dB, very_high -%.1f dB\n", -off_drop,
              on_drop);
  EXPECT_LT(std::abs(off_drop), 1.0);
  EXPECT_GE(on_drop, 10.0);

  auto join_max = [&](int64_t j) {
    double m = -1;
    for (int64_t t = j - 1; t <= j + 1; ++t) m = std::max(m, test::roughness(y, t, int(sr)));
    return m;
  };
  // A switch takes effect with the block it is set before and is heard d samples later.
  auto near_switch = [&](int64_t j) {
    for (int64_t k : switch_blocks) {
      if (j >= k * b + d - 2 && j <= (k + 1) * b + d + 2) return true;
    }
    return false;
  };
  std::vector<double> others;
  double worst = 0.0;
  int64_t judged = 0;
  for (int64_t k : switch_blocks) {
    for (int64_t j : {k * b + d, (k + 1) * b + d}) {
      const double r = join_max(j);
      if (r >= 0) worst = std::max(worst, r), ++judged;
    }
  }
  for (int64_t j = 2 * b + d; j + b < static_cast<int64_t>(y.size()); j += b) {
    if (near_switch(j)) continue;
    const double r = join_max(j);
    if (r >= 0) others.push_back(r);
  }
  ASSERT_GT(judged, 10);
  ASSERT_GT(others.size(), 50u);
  std::sort(others.begin(), others.end());
  const double p90 = others[others.size() * 9 / 10];
  // Control: what a hard switch would do, the same stream with suppression always off spliced in
  // for one block at an ordinary join while suppression is on (7.0 s).
  Stream s_off(c, make_builtin_backend());
  std::vector<float> y_off(x.size());
  for (int64_t k = 0; (k + 1) * b <= static_cast<int64_t>(x.size()); ++k) {
    s_off.process(x.data() + k * b, y_off.data() + k * b);
  }
  const int64_t cut = (7 * sr / b) * b;
  std::vector<float> spliced = y;
  std::copy(y_off.begin() + cut, y_off.begin() + cut + b, spliced.begin() + cut);
  double control = 0.0;
  for (int64_t j : {cut, cut + b}) {
    for (int64_t t = j - 1; t <= j + 1; ++t) {
      control = std::max(control, test::roughness(spliced, t, int(sr)));
    }
  }
  std::printf(
      "switch joins worst roughness %.3f; other joins p90 %.3f max %.3f; hard splice %.3f\n", worst,
      p90, others.back(), control);
  EXPECT_LE(worst, std::max(1.5 * p90, others.back())) << "switching noise suppression clicks";
  EXPECT_GT(control, 5.0 * p90) << "the measure cannot see a hard switch";
}

}  // namespace
}  // namespace rvc::pipeline
