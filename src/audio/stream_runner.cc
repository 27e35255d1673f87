// StreamRunner: audio thread <-> SPSC rings <-> worker thread running the Stream.
#include "rvc/audio/stream_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

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
  thread_ = std::thread([this] {
    stream_.warm_up(1);
    warmed_.store(1, std::memory_order_release);
    warmed_.notify_all();
    worker();
  });
  warmed_.wait(0, std::memory_order_acquire);
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
void StreamRunner::audio(const float* in, float* out, int64_t frames, CallbackStatus status) {
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
    record(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
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
