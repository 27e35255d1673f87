// StreamRunner: audio thread <-> SPSC rings <-> worker thread running the Stream.
#include "rvc/audio/stream_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "rvc/audio/realtime.h"
#include "rvc/core/error.h"

namespace rvc::audio {
namespace {

int64_t ring_size(int64_t block, int64_t period, int64_t headroom) {
  return 4 * (block + period) + headroom;
}

int64_t checked_headroom(int64_t headroom, int64_t block) {
  if (headroom < 0 || headroom > 8 * block) {
    fail("StreamRunner: headroom must be 0..8 blocks (", 8 * block, " frames), got ", headroom);
  }
  return headroom;
}

int64_t checked_period(int64_t period) {
  if (period < 1 || period > (int64_t{1} << 22)) {
    fail("StreamRunner: device period must be 1..4194304 frames, got ", period);
  }
  return period;
}

}  // namespace

StreamRunner::StreamRunner(pipeline::Stream& stream, int64_t device_frames, int64_t headroom_frames)
    : stream_(stream),
      block_(stream.block_frames()),
      period_(checked_period(device_frames)),
      prime_(block_ + period_ - std::gcd(block_, period_) +
             checked_headroom(headroom_frames, block_)),
      in_ring_(ring_size(stream.block_frames(), device_frames, 0)),
      out_ring_(ring_size(stream.block_frames(), device_frames, headroom_frames)),
      in_block_(static_cast<size_t>(block_)),
      out_block_(static_cast<size_t>(block_)) {}

StreamRunner::~StreamRunner() { stop(); }

void StreamRunner::start() {
  if (running_.load()) return;
  in_ring_.reset();
  out_ring_.reset();
  std::fill(out_block_.begin(), out_block_.end(), 0.0f);
  for (int64_t left = prime_; left > 0;) {
    const int64_t n = std::min(left, block_);
    out_ring_.push(out_block_.data(), n);
    left -= n;
  }
  running_.store(true);
  warmed_.store(0);
  n_timings_.store(0);
  started_ = std::chrono::steady_clock::now();
  rt_note_.clear();
  raise_audio_thread_ = false;
  thread_ = std::thread([this] {
    // Before the first OpenMP region: the team's threads inherit the policy.
    if (rt_priority_ > 0) rt_note_ = raise_thread_priority(rt_priority_);
    stream_.warm_up(1);
    warmed_.store(1, std::memory_order_release);
    warmed_.notify_all();
    worker();
  });
  warmed_.wait(0, std::memory_order_acquire);
  raise_audio_thread_ = rt_priority_ > 0 && rt_note_.empty();  // before the device starts
}

void StreamRunner::stop() {
  if (!running_.exchange(false)) return;
  wake_.fetch_add(1);
  wake_.notify_all();
  produced_.fetch_add(1);
  produced_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// Real-time: no allocation, no lock. notify_one is a futex wake when a waiter sleeps.
// The one exception is the first call's scheduling change (one syscall, set-up, not per period).
void StreamRunner::audio(const float* in, float* out, int64_t frames, CallbackStatus status) {
  if (raise_audio_thread_) {
    raise_audio_thread_ = false;
    (void)try_raise_thread_priority(rt_priority_ + 1);  // a refusal leaves it as it was
  }
  if (status.input_overflow || status.output_underflow) xruns_.fetch_add(1);
  in_ring_.push(in, frames);
  const int64_t got = out_ring_.pop(out, frames);
  std::fill(out + got, out + frames, 0.0f);
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_one();
}

bool StreamRunner::wait_ready(int64_t frames) {
  for (;;) {
    const uint32_t seen = produced_.load(std::memory_order_acquire);
    if (!running_.load()) return false;
    if (out_ring_.size() >= frames && in_ring_.free_space() >= frames) return true;
    produced_.wait(seen);
  }
}

void StreamRunner::worker() {
  using Clock = std::chrono::steady_clock;
  while (running_.load(std::memory_order_acquire)) {
    const uint32_t seen = wake_.load(std::memory_order_acquire);
    const int64_t pending = in_ring_.size();
    if (pending < block_) {
      wake_.wait(seen);
      continue;
    }
    // Fallen behind by more than a block: skip the stalest input, keep the delay bounded.
    if (pending >= 2 * block_ + period_) {
      const int64_t skip = pending - (block_ + period_);
      dropped_.fetch_add(static_cast<uint64_t>(in_ring_.skip(skip)), std::memory_order_relaxed);
    }
    in_ring_.pop(in_block_.data(), block_);
    const auto t0 = Clock::now();
    stream_.process(in_block_.data(), out_block_.data());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    record(ms);
    const size_t n = n_timings_.load(std::memory_order_relaxed);
    if (n < timings_.size()) {  // only this thread writes: a plain store, then publish it
      timings_[n] = {std::chrono::duration<double>(t0 - started_).count(), ms};
      n_timings_.store(n + 1, std::memory_order_release);
    }
    out_ring_.push(out_block_.data(), block_);
    blocks_.fetch_add(1, std::memory_order_relaxed);
    produced_.fetch_add(1, std::memory_order_release);
    produced_.notify_all();
  }
}

void StreamRunner::record(double ms) {
  const double us = ms * 1000.0;
  const int b =
      us < 1.0 ? 0 : std::min(kBuckets, 1 + static_cast<int>(std::log(us) / std::log(1.02)));
  hist_[static_cast<size_t>(b)].fetch_add(1, std::memory_order_relaxed);
  if (ms > max_ms_.load(std::memory_order_relaxed)) max_ms_.store(ms, std::memory_order_relaxed);
}

void StreamRunner::set_rt_priority(int priority) {
  if (running_.load()) fail("StreamRunner: set_rt_priority() after start()");
  if (priority < 0 || priority > kMaxRtPriority - 1) {
    fail("rt-priority: expected 0 (off) or 1..", kMaxRtPriority - 1, ", got ", priority);
  }
  rt_priority_ = priority;
}

void StreamRunner::keep_timings(int64_t max_blocks) {
  if (running_.load()) fail("StreamRunner: keep_timings() after start()");
  if (max_blocks < 0 || max_blocks > (int64_t{1} << 26)) {
    fail("StreamRunner: timings for 0..67108864 blocks, got ", max_blocks);
  }
  timings_.assign(static_cast<size_t>(max_blocks), BlockTiming{});
  n_timings_.store(0);
}

std::vector<BlockTiming> StreamRunner::timings() const {
  const size_t n = n_timings_.load(std::memory_order_acquire);
  return {timings_.begin(), timings_.begin() + static_cast<std::ptrdiff_t>(n)};
}

WindowExtremes window_extremes(const std::vector<BlockTiming>& t, int64_t blocks_per_window) {
  WindowExtremes r;
  const size_t w = static_cast<size_t>(std::max<int64_t>(blocks_per_window, 1));
  if (t.empty()) return r;
  // Whole windows only, unless the run is shorter than one.
  const size_t windows = t.size() < w ? 1 : t.size() / w;
  std::vector<double> ms;
  for (size_t k = 0; k < windows; ++k) {
    const size_t b = k * w, e = std::min(t.size(), b + w);
    ms.clear();
    for (size_t i = b; i < e; ++i) ms.push_back(t[i].compute_ms);
    std::sort(ms.begin(), ms.end());
    const auto at = [&](double q) {
      return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1) + 0.5)];
    };
    WindowStats s{t[b].start_s, static_cast<int64_t>(e - b), at(0.5), at(0.99), ms.back()};
    if (k == 0 || s.p50_ms > r.slowest.p50_ms) r.slowest = s;
    if (k == 0 || s.p50_ms < r.quietest.p50_ms) r.quietest = s;
  }
  r.windows = static_cast<int64_t>(windows);
  return r;
}

int64_t StreamRunner::latency_frames() const { return prime_ + stream_.latency_frames() - block_; }

RunnerStats StreamRunner::stats() const {
  RunnerStats s;
  s.device_xruns = xruns_.load();
  s.input_overrun_frames = in_ring_.overrun_frames();
  s.output_underrun_frames = out_ring_.underrun_frames();
  s.dropped_input_frames = dropped_.load();
  s.blocks = blocks_.load();
  s.compute_max_ms = max_ms_.load();
  std::array<uint32_t, kBuckets + 1> h{};
  uint64_t total = 0;
  for (size_t i = 0; i < h.size(); ++i) total += (h[i] = hist_[i].load(std::memory_order_relaxed));
  if (total == 0) return s;
  // Percentile = upper edge of the bucket holding it (capped by the true maximum).
  auto pct = [&](double q) {
    const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t acc = 0;
    for (size_t i = 0; i < h.size(); ++i) {
      acc += h[i];
      if (acc >= want) {
        return std::min(0.001 * std::pow(1.02, static_cast<double>(i)), s.compute_max_ms);
      }
    }
    return s.compute_max_ms;
  };
  s.compute_p50_ms = pct(0.50);
  s.compute_p99_ms = pct(0.99);
  return s;
}

}  // namespace rvc::audio
