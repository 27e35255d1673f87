// oneDNN (OpenMP runtime) fixes a primitive's thread count when it is created, so the fast layers
// keep their primitives per nn::num_threads(). Each layer here runs at 1 thread, then 2, then 1
// again, and the test checks both the result (the same to float rounding; bit for bit when back
// at 1) and how many threads really worked: the share of the process's CPU time spent on threads
// other than the calling one (CPU time, not wall time, so a busy machine does not change it;
// the work is split statically, so the second thread does about half of it). A layer that kept
// its 1-thread primitive at 2 threads shows a share near 0, one that kept its 2-thread primitive
// at 1 thread a share near 0.5.
//
// Also the bounds of the per-thread-count cache itself (detail::PrimitiveCache).
#include <gtest/gtest.h>
#include <omp.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../../src/nn/dnnl_util.h"
#include "nn_test_util.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/conv2d.h"
#include "rvc/nn/grouped_conv1d.h"
#include "rvc/nn/gru.h"
#include "rvc/nn/linear.h"

namespace rvc::nn {
namespace {

using test::max_rel_diff;
using test::random_tensor;
using Run = std::function<void(Tensor&)>;

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs `run` until the process has used at least 0.1 s of CPU (3 calls at least) and returns the
// fraction of that CPU time spent on threads other than the calling one.
double others_share(const Run& run, Tensor& y) {
  const double p0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
  double total = 0.0, self = 0.0;
  for (int i = 0; i < 3 || (total < 0.1 && i < 500); ++i) {
    run(y);
    total = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - p0;
    self = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
  }
  return total > 0.0 ? (total - self) / total : 0.0;
}

// nn::set_num_threads() from another thread (the settings may be changed from any thread), so
// that only the layer's own handling can carry the new count to the thread that runs it; or
// from this thread (then set_num_threads() also sets this thread's OpenMP thread count).
void switch_threads(int n, bool from_another_thread) {
  if (from_another_thread) {
    std::thread([n] { set_num_threads(n); }).join();
  } else {
    set_num_threads(n);
  }
}

// 1 thread, 2 threads, 1 thread again on one layer (its first call at each count creates that
// count's primitives; the share is measured on the calls after it). A program that sets one
// thread has usually run some fast kernel at 1 thread before a layer creates its first
// primitive, so the calling thread's OpenMP setting is 1 by then: one small gemm does that here.
void expect_follows_thread_count(const Run& run, bool switch_from_another_thread = true) {
  if (omp_get_thread_limit() < 2 || omp_get_dynamic()) {
    GTEST_SKIP() << "OpenMP may not give 2 threads here (OMP_THREAD_LIMIT / OMP_DYNAMIC)";
  }
  const bool other = switch_from_another_thread;
  Tensor y1, y2, y3;
  switch_threads(1, other);
  float a[4] = {1.f, 2.f, 3.f, 4.f}, c[4] = {};
  gemm(false, false, 2, 2, 2, 1.f, a, 2, a, 2, 0.f, c, 2, Backend::kFast);
  run(y1);
  const double share1 = others_share(run, y1);
  switch_threads(2, other);
  run(y2);
  const double share2 = others_share(run, y2);
  switch_threads(1, other);
  run(y3);
  // Unless OMP_WAIT_POLICY=passive (as under ctest), libgomp's idle workers spin for a while
  // after a region before they sleep: let that end so it is not counted as work at 1 thread.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double share3 = others_share(run, y3);
  set_num_threads(2);
  std::printf("share of other threads' CPU time at 1, 2, 1 threads: %.3f %.3f %.3f\n", share1,
              share2, share3);
  EXPECT_LT(share1, 0.1) << "at 1 thread, other threads did part of the work";
  EXPECT_GT(share2, 0.25) << "at 2 threads, the second thread did almost nothing";
  EXPECT_LT(share3, 0.1) << "back at 1 thread, the 2-thread primitive still ran";
  EXPECT_LT(max_rel_diff(y2, y1), 1e-5);
  ASSERT_EQ(y3.shape(), y1.shape());
  for (int64_t i = 0; i < y1.numel(); ++i) {
    ASSERT_EQ(y3[i], y1[i]) << "element " << i << " differs after returning to 1 thread";
  }
}

TEST(ThreadsCache, LinearFollowsThreadCount) {
  std::mt19937 rng(1);
  const int64_t rows = 512, in = 1024, out = 1024;
  const Tensor w = random_tensor({out, in}, rng, 1.f / 32.f), b = random_tensor({out}, rng);
  const Tensor x = random_tensor({rows, in}, rng);
  const Linear lin(w, &b, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) { lin.forward(x, y); });
}

TEST(ThreadsCache, Conv2dFollowsThreadCount) {
  std::mt19937 rng(2);
  Conv2dParams p;
  p.in_channels = p.out_channels = 32;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  p.post = PostOp::kRelu;
  const int64_t h = 128, wd = 96;
  const Tensor w = random_tensor({32, 32, 3, 3}, rng, 0.05f), b = random_tensor({32}, rng);
  const Tensor x = random_tensor({h, wd, 32}, rng);
  const Conv2d conv(p, w, &b, nullptr, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) {
    y.resize({conv.out_h(h), conv.out_w(wd), 32});
    conv.forward(x.data(), h, wd, y.data());
  });
}

// Small maps with many channels take Conv2d's im2col + matmul path.
TEST(ThreadsCache, Conv2dMatmulPathFollowsThreadCount) {
  std::mt19937 rng(3);
  Conv2dParams p;
  p.in_channels = p.out_channels = 256;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  const int64_t h = 16, wd = 16;
  const Tensor w = random_tensor({256, 256, 3, 3}, rng, 0.02f), b = random_tensor({256}, rng);
  const Tensor x = random_tensor({h, wd, 256}, rng);
  const Conv2d conv(p, w, &b, nullptr, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) {
    y.resize({h, wd, 256});
    conv.forward(x.data(), h, wd, y.data());
  });
}

// Kernel 3, stride 2, padding 1: phases of different lengths, so oneDNN's deconvolution runs.
TEST(ThreadsCache, ConvTranspose2dFollowsThreadCount) {
  std::mt19937 rng(4);
  ConvTranspose2dParams p;
  p.in_channels = p.out_channels = 32;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  p.pad_h = p.pad_w = 1;
  const int64_t h = 64, wd = 48;
  const Tensor w = random_tensor({32, 32, 3, 3}, rng, 0.05f), b = random_tensor({32}, rng);
  const Tensor x = random_tensor({h, wd, 32}, rng);
  const ConvTranspose2d conv(p, w, &b, nullptr, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) {
    y.resize({conv.out_h(h), conv.out_w(wd), 32});
    conv.forward(x.data(), h, wd, y.data());
  });
}

TEST(ThreadsCache, GroupedConv1dFollowsThreadCount) {
  std::mt19937 rng(5);
  Conv1dParams p;
  p.in_channels = p.out_channels = 256;
  p.kernel = 64;
  p.groups = 16;
  p.pad_left = p.pad_right = 32;
  const int64_t t = 256;
  const Tensor w = random_tensor({256, 16, 64}, rng, 0.03f), b = random_tensor({256}, rng);
  const Tensor x = random_tensor({t, 256}, rng);
  const GroupedConv1d conv(p, w, &b, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) {
    y.resize({conv.out_length(t), 256});
    conv.forward(x.data(), t, y.data());
  });
}

// Conv1d (conv1d.cc, conv1d_fft.cc) keys its primitives by num_threads() but creates them with
// the calling thread's OpenMP setting, which follows set_num_threads() only when that is called
// on the same thread: these cases switch on the same thread until it uses detail::use_threads().

// Conv1d's direct (oneDNN) path: 3 taps is below the DFT path's range.
TEST(ThreadsCache, Conv1dFollowsThreadCount) {
  std::mt19937 rng(7);
  Conv1dParams p;
  p.in_channels = p.out_channels = 256;
  p.kernel = 3;
  p.pad(1);
  p.post = PostOp::kLeakyRelu;
  p.alpha = 0.1f;
  const int64_t t = 2048;
  const Tensor w = random_tensor({256, 256, 3}, rng, 0.04f), b = random_tensor({256}, rng);
  const Tensor x = random_tensor({t, 256}, rng);
  const Conv1d conv(p, w, &b, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) { conv.forward(x, y); });
}

// Conv1d's DFT path (7 taps, 128 channels: HiFi-GAN's resblocks).
TEST(ThreadsCache, Conv1dDftFollowsThreadCount) {
  std::mt19937 rng(8);
  Conv1dParams p;
  p.in_channels = p.out_channels = 128;
  p.kernel = 7;
  p.pad(3);
  const int64_t t = 4096;
  const Tensor w = random_tensor({128, 128, 7}, rng, 0.03f), b = random_tensor({128}, rng);
  const Tensor x = random_tensor({t, 128}, rng);
  const Conv1d conv(p, w, &b, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) { conv.forward(x, y); });
}

// The synthesizer's upsampling (kernel 16, stride 8) through its polyphase Conv1d.
TEST(ThreadsCache, ConvTranspose1dFollowsThreadCount) {
  std::mt19937 rng(9);
  ConvTranspose1dParams p;
  p.in_channels = 256;
  p.out_channels = 128;
  p.kernel = 16;
  p.stride = 8;
  p.padding = 4;
  const int64_t t = 512;
  const Tensor w = random_tensor({256, 128, 16}, rng, 0.03f), b = random_tensor({128}, rng);
  const Tensor x = random_tensor({t, 256}, rng);
  const ConvTranspose1d conv(p, w, &b, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) { conv.forward(x, y); });
}

// Bidirectional: the input projection is a Linear, the two directions run on two threads.
TEST(ThreadsCache, GruFollowsThreadCount) {
  std::mt19937 rng(6);
  const int64_t in = 384, hidden = 256, t = 256;
  TensorMap wm;
  for (const char* sfx : {"0", "0_reverse"}) {
    wm[std::string("weight_ih_l") + sfx] = random_tensor({3 * hidden, in}, rng, 0.05f);
    wm[std::string("weight_hh_l") + sfx] = random_tensor({3 * hidden, hidden}, rng, 0.06f);
    wm[std::string("bias_ih_l") + sfx] = random_tensor({3 * hidden}, rng, 0.1f);
    wm[std::string("bias_hh_l") + sfx] = random_tensor({3 * hidden}, rng, 0.1f);
  }
  const Tensor x = random_tensor({t, in}, rng);
  const Gru gru(wm, "", 1, true, Backend::kFast);
  expect_follows_thread_count([&](Tensor& y) {
    y.resize({t, 2 * hidden});
    gru.forward(x.data(), t, y.data());
  });
}

struct Dummy {
  int v;
};

TEST(ThreadsCache, EntriesAreKeptPerThreadCount) {
  detail::PrimitiveCache<int, Dummy> cache(8);
  cache.insert(1, 10, std::make_shared<Dummy>(Dummy{1}));
  cache.insert(2, 10, std::make_shared<Dummy>(Dummy{2}));
  ASSERT_TRUE(cache.find(1, 10));
  ASSERT_TRUE(cache.find(2, 10));
  EXPECT_EQ(cache.find(1, 10)->v, 1);
  EXPECT_EQ(cache.find(2, 10)->v, 2);
  EXPECT_FALSE(cache.find(3, 10));
  EXPECT_FALSE(cache.find(1, 11));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ThreadsCache, CacheIsBoundedPerThreadCountAndInThreadCounts) {
  detail::PrimitiveCache<int, Dummy> cache(3);
  for (int k = 0; k < 3; ++k) cache.insert(1, k, std::make_shared<Dummy>(Dummy{k}));
  const std::shared_ptr<Dummy> held = cache.find(1, 0);
  cache.insert(1, 3, std::make_shared<Dummy>(Dummy{3}));  // full: that count's entries go
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.find(1, 0));
  EXPECT_EQ(held->v, 0);  // a caller's entry outlives its eviction
  // One thread count more than kept: the least recently used one goes (2: count 1 was used
  // after it).
  const int counts = static_cast<int>(detail::PrimitiveCache<int, Dummy>::kMaxThreadCounts);
  ASSERT_GE(counts, 3);
  for (int n = 2; n <= counts; ++n) cache.insert(n, 0, std::make_shared<Dummy>(Dummy{n}));
  ASSERT_TRUE(cache.find(1, 3));
  cache.insert(counts + 1, 0, std::make_shared<Dummy>(Dummy{counts + 1}));
  EXPECT_EQ(cache.thread_counts(), static_cast<size_t>(counts));
  EXPECT_FALSE(cache.find(2, 0));
  EXPECT_TRUE(cache.find(1, 3));
  EXPECT_TRUE(cache.find(3, 0));
  EXPECT_TRUE(cache.find(counts + 1, 0));
}

}  // namespace
}  // namespace rvc::nn
