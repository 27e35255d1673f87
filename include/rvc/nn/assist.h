// rvc/nn/assist.h: a second thread lending itself to one owner thread's work for a while.
//
// The pipelined stream (rvc/pipeline/stream.h, StreamConfig::pipeline) runs two single-threaded
// halves side by side inside a two-thread OpenMP region, where every kernel runs on one thread.
// The half that finishes first need not sit at the region's barrier: it calls serve() and the
// other half's kernels that can split their work in two (HalfPanels::gemm, so HuBERT's
// transformer Linears) hand one part to it. The split is by output columns, so the numbers do
// not change: each output is computed by one thread, in the same order as alone.
//
// Use: open() before the two threads start; the owner thread holds an Assist::Owner for the
// stretch it wants help with (its destructor closes the Assist, which makes serve() return);
// the other thread calls serve() when it has nothing else to do. available() is what a kernel
// asks on the owner thread. No allocation, no lock: each side spins a few tens of microseconds
// for the other, then sleeps on a futex (std::atomic::wait), so a waiting thread never holds a
// core that the audio thread needs.
#pragma once

#include <atomic>
#include <cstdint>

namespace rvc::nn {

class Assist {
 public:
  // Work in two parts; part 1 runs on the helper, part 0 on the owner.
  using Fn = void (*)(const void* ctx, int part);

  // Makes `a` the calling thread's Assist until destroyed, then closes it.
  class Owner {
   public:
    explicit Owner(Assist& a);
    ~Owner();
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;

   private:
    Assist& a_;
    Assist* saved_;
  };

  // Ready for a new stretch; not while either thread uses it.
  void open();
  // The calling thread's Assist when it owns one whose helper is waiting in serve(), else null.
  static Assist* available();
  // Owner thread: fn(ctx, 1) on the helper while the caller runs fn(ctx, 0); returns when both
  // are done. Only on an Assist that available() returned. fn must not throw.
  void split(Fn fn, const void* ctx);
  // Helper thread: runs the parts the owner posts until the owner's scope ends.
  void serve();
  // Parts the helper ran since open() (diagnostics and tests).
  int helped() const { return helped_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> waiting_{false}, closed_{true};
  std::atomic<uint32_t> done_{0};  // the helper finished the posted part
  std::atomic<uint32_t> seq_{0};   // bumped on each post and on close (the helper sleeps on it)
  std::atomic<Fn> fn_{nullptr};
  const void* ctx_ = nullptr;  // written before fn_ (release), read after it (acquire)
  std::atomic<int> helped_{0};
};

}  // namespace rvc::nn
