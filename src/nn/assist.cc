// Assist: see rvc/nn/assist.h.
#include "rvc/nn/assist.h"

#include <immintrin.h>

namespace rvc::nn {
namespace {

thread_local Assist* t_owned = nullptr;

// Spin this many pauses (tens of microseconds) before sleeping on the futex: the gaps between a
// transformer's Linears are mostly shorter, and a spinning thread must not hold a core the
// audio thread or the other half may need for longer than that.
constexpr int kSpins = 1000;

}  // namespace

Assist::Owner::Owner(Assist& a) : a_(a), saved_(t_owned) { t_owned = &a; }

Assist::Owner::~Owner() {
  t_owned = saved_;
  a_.closed_.store(true, std::memory_order_release);
  a_.seq_.fetch_add(1, std::memory_order_release);
  a_.seq_.notify_one();
}

void Assist::open() {
  waiting_.store(false, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  fn_.store(nullptr, std::memory_order_relaxed);
  helped_.store(0, std::memory_order_relaxed);
  closed_.store(false, std::memory_order_release);
}

Assist* Assist::available() {
  Assist* a = t_owned;
  return a && a->waiting_.load(std::memory_order_acquire) ? a : nullptr;
}

void Assist::split(Fn fn, const void* ctx) {
  ctx_ = ctx;
  done_.store(0, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_release);
  seq_.fetch_add(1, std::memory_order_release);
  seq_.notify_one();
  fn(ctx, 0);
  for (int i = 0; i < kSpins && done_.load(std::memory_order_acquire) == 0; ++i) _mm_pause();
  while (done_.load(std::memory_order_acquire) == 0) done_.wait(0, std::memory_order_acquire);
}

void Assist::serve() {
  waiting_.store(true, std::memory_order_release);
  for (;;) {
    const uint32_t seen = seq_.load(std::memory_order_acquire);
    if (Fn fn = fn_.load(std::memory_order_acquire)) {
      fn(ctx_, 1);
      helped_.fetch_add(1, std::memory_order_relaxed);
      fn_.store(nullptr, std::memory_order_relaxed);
      done_.store(1, std::memory_order_release);
      done_.notify_one();
      continue;
    }
    if (closed_.load(std::memory_order_acquire)) break;
    int i = 0;
    while (i < kSpins && seq_.load(std::memory_order_acquire) == seen) {
      _mm_pause();
      ++i;
    }
    if (i == kSpins) seq_.wait(seen, std::memory_order_acquire);
  }
  waiting_.store(false, std::memory_order_relaxed);
}

}  // namespace rvc::nn
