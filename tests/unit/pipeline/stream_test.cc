// Stream: no allocation in process() (global operator new is replaced by a counting one),
// SOLA alignment and latency accounting with a jittering test backend, the built-in voice's delay
// and hot parameter changes, the silence gate, and config validation.
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
  EXPECT_NEAR(s.latency_ms(), 80.0, 1e-9);
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
  std::thread ui([&] {
    while (done.load() < static_cast<int64_t>(x.size()) / 4) std::this_thread::yield();
    StreamParams p;
    p.pitch_semitones = 7;
    s.set_params(p);
  });
  for (int64_t i = 0; i + b <= static_cast<int64_t>(x.size()); i += b) {
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
  Stream s(StreamConfig{}, make_builtin_backend());
  StreamParams p;
  p.formant_semitones = 13;
  EXPECT_THROW(s.set_params(p), Error);
  EXPECT_EQ(s.params().formant_semitones, 0.0);
  EXPECT_THROW(Stream(StreamConfig{}, nullptr), Error);
  StreamConfig long_fade;
  long_fade.crossfade_ms = 200;  // longer than the 100 ms block: refused where SOLA runs
  EXPECT_THROW(Stream(long_fade, std::make_unique<JitterBackend>()), Error);
  EXPECT_NO_THROW(Stream(long_fade, make_builtin_backend()));
}

}  // namespace
}  // namespace rvc::pipeline
