// rvc/core/spsc_ring.h: a lock-free single-producer / single-consumer ring of floats.
//
// The one way samples cross between the audio callback and the inference worker (DESIGN idea 6).
// Capacity is rounded up to a power of two; all memory is allocated in the constructor. push /
// pop / skip never allocate, lock, log or throw, and are wait-free.
//
// Thread-safety: exactly one producer thread calls push() and exactly one consumer thread calls
// pop() / skip() / peek(); any thread may read the counters and size(). reset() only while
// neither side runs.
//
// Counters (monotonic, relaxed): overrun_frames = samples refused by push() because the ring was
// full (the writer was faster than the reader); underrun_frames = samples asked of pop() that
// were not there (the reader was faster than the writer).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "rvc/core/error.h"

namespace rvc {

class SpscRing {
 public:
  // Holds at least min_capacity samples (rounded up to a power of two). Throws rvc::Error when
  // min_capacity is < 1 or > 2^30.
  explicit SpscRing(int64_t min_capacity) {
    if (min_capacity < 1 || min_capacity > (int64_t{1} << 30)) {
      fail("SpscRing: capacity must be in [1, 2^30] samples, got ", min_capacity);
    }
    capacity_ = 1;
    while (capacity_ < min_capacity) capacity_ <<= 1;
    mask_ = capacity_ - 1;
    data_ = std::make_unique<float[]>(static_cast<size_t>(capacity_));
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  int64_t capacity() const { return capacity_; }
  // Samples readable now: a lower bound on the consumer side, an upper bound on the producer side.
  int64_t size() const {
    // tail first: it never passes head, so a reader on a third thread never sees a negative size.
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    const uint64_t head = head_.load(std::memory_order_acquire);
    return static_cast<int64_t>(head - tail);
  }
  int64_t free_space() const { return capacity_ - size(); }

  // Producer: writes up to n samples; returns how many were written. The rest count as overrun.
  int64_t push(const float* src, int64_t n) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    const int64_t room = capacity_ - static_cast<int64_t>(head - tail);
    const int64_t k = std::min(n, room);
    if (k > 0) {
      copy_in(head, src, k);
      head_.store(head + static_cast<uint64_t>(k), std::memory_order_release);
    }
    if (k < n) overrun_.fetch_add(static_cast<uint64_t>(n - k), std::memory_order_relaxed);
    return std::max<int64_t>(k, 0);
  }

  // Consumer: reads up to n samples into dst; returns how many were read. Missing samples count
  // as underrun (dst past the returned count is left untouched).
  int64_t pop(float* dst, int64_t n) {
    const int64_t k = peek(dst, n);
    advance(k);
    if (k < n) underrun_.fetch_add(static_cast<uint64_t>(n - k), std::memory_order_relaxed);
    return k;
  }

  // Consumer: copies up to n of the oldest samples without consuming them.
  int64_t peek(float* dst, int64_t n) const {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    const int64_t k = std::min(n, static_cast<int64_t>(head - tail));
    if (k > 0) copy_out(tail, dst, k);
    return std::max<int64_t>(k, 0);
  }

  // Consumer: discards up to n of the oldest samples (no underrun counted); returns the count.
  int64_t skip(int64_t n) {
    const int64_t k = std::min(n, size());
    advance(k);
    return std::max<int64_t>(k, 0);
  }

  uint64_t overrun_frames() const { return overrun_.load(std::memory_order_relaxed); }
  uint64_t underrun_frames() const { return underrun_.load(std::memory_order_relaxed); }

  // Empties the ring and zeroes the counters. Only while neither side is running.
  void reset() {
    head_.store(0);
    tail_.store(0);
    overrun_.store(0);
    underrun_.store(0);
  }

 private:
  void advance(int64_t k) {
    if (k > 0) tail_.fetch_add(static_cast<uint64_t>(k), std::memory_order_release);
  }
  void copy_in(uint64_t pos, const float* src, int64_t n) {
    const int64_t at = static_cast<int64_t>(pos & mask_);
    const int64_t first = std::min(n, capacity_ - at);
    std::memcpy(data_.get() + at, src, static_cast<size_t>(first) * sizeof(float));
    if (n > first) {
      std::memcpy(data_.get(), src + first, static_cast<size_t>(n - first) * sizeof(float));
    }
  }
  void copy_out(uint64_t pos, float* dst, int64_t n) const {
    const int64_t at = static_cast<int64_t>(pos & mask_);
    const int64_t first = std::min(n, capacity_ - at);
    std::memcpy(dst, data_.get() + at, static_cast<size_t>(first) * sizeof(float));
    if (n > first) {
      std::memcpy(dst + first, data_.get(), static_cast<size_t>(n - first) * sizeof(float));
    }
  }

  int64_t capacity_ = 0;
  uint64_t mask_ = 0;
  std::unique_ptr<float[]> data_;
  // Producer and consumer indices on their own cache lines (no false sharing).
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the producer
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the consumer
  alignas(64) std::atomic<uint64_t> overrun_{0};
  std::atomic<uint64_t> underrun_{0};
};

}  // namespace rvc
