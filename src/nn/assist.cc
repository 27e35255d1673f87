// Assist: see rvc/nn/assist.h.
#include "rvc/nn/assist.h"

#include <immintrin.h>

namespace rvc::nn {
namespace {

thread_local Assist* t_owned = nullptr;

inline void relax() { _mm_pause(); }

}  // namespace

Assist::Owner::Owner(Assist& a) : a_(a), saved_(t_owned) { t_owned = &a; }

Assist::Owner::~Owner() {
  t_owned = saved_;
  a_.closed_.store(true, std::memory_order_release);
}

void Assist::open() {
  waiting_.store(false, std::memory_order_relaxed);
  done_.store(false, std::memory_order_relaxed);
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
  done_.store(false, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_release);
  fn(ctx, 0);
  while (!done_.load(std::memory_order_acquire)) relax();
}

void Assist::serve() {
  waiting_.store(true, std::memory_order_release);
  for (;;) {
    if (Fn fn = fn_.load(std::memory_order_acquire)) {
      fn(ctx_, 1);
      helped_.fetch_add(1, std::memory_order_relaxed);
      fn_.store(nullptr, std::memory_order_relaxed);
      done_.store(true, std::memory_order_release);
      continue;
    }
    if (closed_.load(std::memory_order_acquire)) break;
    relax();
  }
  waiting_.store(false, std::memory_order_relaxed);
}

}  // namespace rvc::nn
