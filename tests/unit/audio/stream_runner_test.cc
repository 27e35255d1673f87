// StreamRunner through the fake device: the live callback path (audio thread -> rings ->
// worker -> Stream) reproduces the Stream's own output delayed by prime_frames() when the
// consumer is waited for; a stuck worker shows up as counted overruns, underruns and dropped
// stale input, never as a hang; driver xruns are counted; the delay measure finds known delays.
#include "rvc/audio/stream_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rvc/audio/delay.h"
#include "rvc/audio/fake_device.h"
#include "rvc/audio/realtime.h"
#include "rvc/core/error.h"

namespace rvc::audio {
namespace {

std::vector<float> glide(int64_t n, int sr) {
  std::vector<float> s(static_cast<size_t>(n));
  double phase = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    phase += 2 * M_PI * (110.0 + 120.0 * static_cast<double>(i) / static_cast<double>(n)) / sr;
    const double am = 0.5 + 0.5 * std::sin(2 * M_PI * 3.0 * i / sr);  // syllable-like envelope
    s[static_cast<size_t>(i)] =
        static_cast<float>(0.25 * am * (std::sin(phase) + 0.5 * std::sin(2 * phase)));
  }
  return s;
}

pipeline::StreamConfig config16k(double block_ms) {
  pipeline::StreamConfig c;
  c.sample_rate = 16000;
  c.block_ms = block_ms;
  c.params.pitch_semitones = 3;
  return c;
}

TEST(StreamRunner, WaitedCallbackPathEqualsDirectStreamDelayedByPrime) {
  const auto x = glide(16000 * 2, 16000);
  // Reference: the Stream alone, block by block.
  pipeline::Stream ref(config16k(20), pipeline::make_builtin_backend());
  const int64_t b = ref.block_frames();
  std::vector<float> want(x.size(), 0.0f);
  for (int64_t i = 0; i + b <= static_cast<int64_t>(x.size()); i += b) {
    ref.process(x.data() + i, want.data() + i);
  }
  const std::pair<int64_t, int64_t> setups[] = {{320, 0}, {256, 0}, {1000, 0}, {160, 37}};
  for (const auto& [period, headroom] : setups) {
    pipeline::Stream s(config16k(20), pipeline::make_builtin_backend());
    StreamRunner r(s, period, headroom);
    EXPECT_EQ(r.prime_frames(), b + period - std::gcd(b, period) + headroom);
    FakeDevice dev(16000, period);
    r.start();
    dev.start(&r);
    std::vector<float> got(x.size(), 0.0f);
    for (int64_t i = 0; i + period <= static_cast<int64_t>(x.size()); i += period) {
      ASSERT_TRUE(dev.wait_ready());
      dev.run_period(x.data() + i, got.data() + i);
    }
    dev.stop();
    r.stop();
    const RunnerStats st = r.stats();
    EXPECT_EQ(st.output_underrun_frames, 0u) << "period " << period;
    EXPECT_EQ(st.input_overrun_frames, 0u);
    EXPECT_EQ(st.dropped_input_frames, 0u);
    EXPECT_EQ(st.device_xruns, 0u);
    EXPECT_GT(st.blocks, 0u);
    EXPECT_LE(st.compute_p50_ms, st.compute_p99_ms);
    const int64_t p = r.prime_frames();
    EXPECT_EQ(r.latency_frames(), p + s.latency_frames() - b);
    double err = 0.0;
    const int64_t n = static_cast<int64_t>(st.blocks) * b;
    for (int64_t t = p; t < std::min<int64_t>(n, static_cast<int64_t>(x.size()) / period * period);
         ++t) {
      err = std::max(err, static_cast<double>(std::abs(got[static_cast<size_t>(t)] -
                                                       want[static_cast<size_t>(t - p)])));
    }
    EXPECT_LT(err, 1e-6) << "period " << period;
  }
}

// keep_timings(n): the worker notes each block's start and compute time, up to n blocks, in
// order, and the compute times are the ones behind the percentiles.
TEST(StreamRunner, KeepsPerBlockTimings) {
  const auto x = glide(16000, 16000);
  for (const int64_t keep : {int64_t{1000}, int64_t{7}, int64_t{0}}) {
    pipeline::Stream s(config16k(20), pipeline::make_builtin_backend());
    StreamRunner r(s, 320);
    r.keep_timings(keep);
    FakeDevice dev(16000, 320);
    r.start();
    EXPECT_THROW(r.keep_timings(5), Error) << "not while running";
    dev.start(&r);
    std::vector<float> out(320);
    for (int64_t i = 0; i + 320 <= static_cast<int64_t>(x.size()); i += 320) {
      ASSERT_TRUE(dev.wait_ready());
      dev.run_period(x.data() + i, out.data());
    }
    dev.stop();
    r.stop();
    const RunnerStats st = r.stats();
    const std::vector<BlockTiming> t = r.timings();
    ASSERT_EQ(t.size(), std::min<size_t>(st.blocks, static_cast<size_t>(keep)));
    double max_ms = 0.0;
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_GE(t[i].compute_ms, 0.0);
      EXPECT_GE(t[i].start_s, i > 0 ? t[i - 1].start_s : 0.0) << "block " << i;
      max_ms = std::max(max_ms, t[i].compute_ms);
    }
    if (t.size() == st.blocks) {
      EXPECT_DOUBLE_EQ(max_ms, st.compute_max_ms);
    }
  }
  pipeline::Stream s(config16k(20), pipeline::make_builtin_backend());
  StreamRunner r(s, 320);
  EXPECT_THROW(r.keep_timings(-1), Error);
  EXPECT_TRUE(r.timings().empty());
}

// A burst of slow blocks is found as the slowest window, a calm stretch as the quietest; a run
// shorter than one window is one window; nothing recorded is no window.
TEST(WindowExtremes, FindsTheBurst) {
  std::vector<BlockTiming> t;
  for (int i = 0; i < 95; ++i) {
    const bool burst = i >= 40 && i < 50;
    const bool calm = i >= 70 && i < 80;
    t.push_back({0.1 * i, burst ? 150.0 + i % 3 : (calm ? 60.0 : 80.0 + i % 5)});
  }
  const WindowExtremes w = window_extremes(t, 10);
  EXPECT_EQ(w.windows, 9);  // whole windows only: the last 5 blocks are left out
  EXPECT_EQ(w.slowest.blocks, 10);
  EXPECT_DOUBLE_EQ(w.slowest.start_s, t[40].start_s);
  EXPECT_DOUBLE_EQ(w.slowest.p50_ms, 151.0);
  EXPECT_DOUBLE_EQ(w.slowest.max_ms, 152.0);
  EXPECT_DOUBLE_EQ(w.slowest.p99_ms, 152.0);
  EXPECT_DOUBLE_EQ(w.quietest.start_s, t[70].start_s);
  EXPECT_DOUBLE_EQ(w.quietest.p50_ms, 60.0);

  const WindowExtremes one = window_extremes({t.begin(), t.begin() + 4}, 10);
  EXPECT_EQ(one.windows, 1);
  EXPECT_EQ(one.slowest.blocks, 4);
  EXPECT_DOUBLE_EQ(one.slowest.max_ms, 83.0);
  EXPECT_EQ(window_extremes({}, 10).windows, 0);
  EXPECT_EQ(window_extremes(t, 0).windows, 95);  // taken as 1 block per window
}

// Passes each block through unchanged after on_block(), for backends that only watch the worker.
class CopyBackend : public pipeline::VoiceBackend {
 public:
  bool continuous() const override { return true; }
  void prepare(const pipeline::StreamGeometry& g, const pipeline::StreamParams&) override {
    g_ = g;
  }
  int64_t window_frames(const pipeline::StreamGeometry& g) const override { return g.block; }
  int64_t latency_frames() const override { return 0; }
  void infer(const float* w, float* out, const pipeline::StreamParams&) override {
    on_block();
    std::copy(w, w + g_.block, out);
  }
  void reset() override {}

 protected:
  virtual void on_block() = 0;

 private:
  pipeline::StreamGeometry g_;
};

// Blocks in infer() until released: the worker is "slow" deterministically. The first call
// (StreamRunner::start's warm-up block) passes.
class GateBackend final : public CopyBackend {
 public:
  explicit GateBackend(std::atomic<bool>* open) : open_(open) {}
  std::string describe() const override { return "gate"; }

 private:
  void on_block() override {
    if (calls_++ > 0) {
      while (!open_->load()) std::this_thread::yield();
    }
  }
  std::atomic<bool>* open_;
  int64_t calls_ = 0;
};

TEST(StreamRunner, StuckWorkerIsCountedAndStaleInputDropped) {
  std::atomic<bool> open{false};
  pipeline::Stream s(config16k(10), std::make_unique<GateBackend>(&open));
  const int64_t period = 160;
  StreamRunner r(s, period);
  FakeDevice dev(16000, period);
  r.start();
  dev.start(&r);
  std::vector<float> in(static_cast<size_t>(period), 0.1f), out(static_cast<size_t>(period));
  for (int i = 0; i < 200; ++i) dev.run_period(in.data(), out.data());  // worker is stuck
  dev.run_period(in.data(), out.data(), {true, false});
  RunnerStats st = r.stats();
  EXPECT_GT(st.input_overrun_frames, 0u);    // the input ring filled up
  EXPECT_GT(st.output_underrun_frames, 0u);  // silence was played
  EXPECT_EQ(st.device_xruns, 1u);
  EXPECT_EQ(dev.xruns(), 1u);
  open = true;
  // The worker skips the stale backlog once it runs again (bounded wait, not a timing check).
  dev.run_period(in.data(), out.data());
  for (int i = 0; i < 100000 && r.stats().dropped_input_frames == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  dev.stop();
  r.stop();
  st = r.stats();
  EXPECT_GT(st.dropped_input_frames, 0u);
  r.stop();  // twice is fine
  EXPECT_THROW(StreamRunner(s, 0), Error);
  EXPECT_THROW(StreamRunner(s, 160, -1), Error);
}

// Notes the scheduling priority its worker thread and a two-thread OpenMP team run at.
class PriorityBackend final : public CopyBackend {
 public:
  std::string describe() const override { return "priority"; }
  std::atomic<int> worker{-1}, team{-1};

 private:
  void on_block() override {
    worker.store(thread_rt_priority());
    int lo = 99;
#pragma omp parallel num_threads(2) reduction(min : lo)
    lo = std::min(lo, thread_rt_priority());
    team.store(lo);
  }
};

// set_rt_priority(n): the worker and its OpenMP team run at n, the audio thread at n + 1 from
// its first callback; or, where the system refuses, a one-line note and ordinary priority.
TEST(StreamRunner, RealTimePriorityForWorkerTeamAndAudioThread) {
  auto backend = std::make_unique<PriorityBackend>();
  PriorityBackend* seen = backend.get();
  pipeline::Stream s(config16k(10), std::move(backend));
  const int64_t period = 160;
  StreamRunner r(s, period);
  EXPECT_THROW(r.set_rt_priority(-1), Error);
  EXPECT_THROW(r.set_rt_priority(kMaxRtPriority), Error);
  r.set_rt_priority(6);
  FakeDevice dev(16000, period);
  r.start();
  EXPECT_THROW(r.set_rt_priority(5), Error);  // after start()
  const std::string note = r.rt_priority_note();
  dev.start(&r);
  int audio_prio = -1;
  std::thread audio([&] {  // the callback thread of its own: the test's stays ordinary
    std::vector<float> in(static_cast<size_t>(period), 0.1f), out(static_cast<size_t>(period));
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(dev.wait_ready());
      dev.run_period(in.data(), out.data());
    }
    audio_prio = thread_rt_priority();
  });
  audio.join();
  for (int i = 0; i < 100000 && seen->team.load() < 0; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  dev.stop();
  r.stop();
  if (!note.empty()) {
    EXPECT_EQ(seen->worker.load(), 0) << note;
    EXPECT_EQ(audio_prio, 0);
    GTEST_SKIP() << "this system refuses SCHED_FIFO: " << note;
  }
  EXPECT_EQ(seen->worker.load(), 6);
  EXPECT_EQ(seen->team.load(), 6);
  EXPECT_EQ(audio_prio, 7);
}

TEST(Delay, FindsAKnownDelayOfAModulatedSignal) {
  const int sr = 16000;
  const auto x = glide(sr * 3, sr);
  for (int64_t d : {int64_t{0}, int64_t{800}, int64_t{4000}}) {
    std::vector<float> y(x.size() + static_cast<size_t>(d), 0.0f);
    for (size_t i = 0; i < x.size(); ++i) y[i + static_cast<size_t>(d)] = 0.5f * x[i];
    double corr = 0;
    const double got = measure_delay_s(x.data(), static_cast<int64_t>(x.size()), y.data(),
                                       static_cast<int64_t>(y.size()), sr, 1.0, &corr);
    EXPECT_NEAR(got, static_cast<double>(d) / sr, 0.0015) << d;
    EXPECT_GT(corr, 0.9);
  }
  std::vector<float> silent(16000, 0.0f);
  EXPECT_EQ(measure_delay_s(x.data(), 16000, silent.data(), 16000, sr, 0.5), -1.0);
}

}  // namespace
}  // namespace rvc::audio
