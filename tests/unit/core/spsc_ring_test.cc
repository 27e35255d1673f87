// SpscRing: capacity rounding, wrap-around, counters, and a two-thread producer/consumer run
// that must deliver every sample exactly once, in order.
#include "rvc/core/spsc_ring.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace rvc {
namespace {

TEST(SpscRing, RoundsCapacityUpToPowerOfTwo) {
  EXPECT_EQ(SpscRing(1).capacity(), 1);
  EXPECT_EQ(SpscRing(5).capacity(), 8);
  EXPECT_EQ(SpscRing(1024).capacity(), 1024);
  EXPECT_THROW(SpscRing(0), Error);
  EXPECT_THROW(SpscRing(int64_t{1} << 31), Error);
}

TEST(SpscRing, WrapsAroundAndCountsOverrunAndUnderrun) {
  SpscRing r(8);
  std::vector<float> a = {1, 2, 3, 4, 5, 6}, b(8, -1.0f);
  EXPECT_EQ(r.push(a.data(), 6), 6);
  EXPECT_EQ(r.pop(b.data(), 4), 4);
  EXPECT_EQ(b[3], 4.0f);
  // 2 left; 6 more fit, wrapping the end of the storage.
  EXPECT_EQ(r.push(a.data(), 6), 6);
  EXPECT_EQ(r.size(), 8);
  EXPECT_EQ(r.push(a.data(), 3), 0);
  EXPECT_EQ(r.overrun_frames(), 3u);
  EXPECT_EQ(r.pop(b.data(), 8), 8);
  const std::vector<float> want = {5, 6, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(b, want);
  EXPECT_EQ(r.pop(b.data(), 2), 0);
  EXPECT_EQ(r.underrun_frames(), 2u);
  EXPECT_EQ(r.push(a.data(), 3), 3);
  EXPECT_EQ(r.skip(2), 2);
  EXPECT_EQ(r.peek(b.data(), 5), 1);
  EXPECT_EQ(b[0], 3.0f);
  r.reset();
  EXPECT_EQ(r.size(), 0);
  EXPECT_EQ(r.overrun_frames(), 0u);
}

// A producer pushes a counting sequence in odd-sized chunks while a consumer pops in other
// sizes; with a small ring both sides hit full/empty often. Every value must arrive once, in order.
TEST(SpscRing, TwoThreadsDeliverEverySampleInOrder) {
  SpscRing r(64);
  constexpr int64_t kTotal = 500'000;
  std::thread producer([&] {
    std::vector<float> chunk(37);
    int64_t next = 0;
    while (next < kTotal) {
      const int64_t n = std::min<int64_t>(static_cast<int64_t>(chunk.size()), kTotal - next);
      for (int64_t i = 0; i < n; ++i)
        chunk[static_cast<size_t>(i)] = static_cast<float>((next + i) % 1000003);
      int64_t done = 0;
      while (done < n) {
        const int64_t k = std::min(n - done, r.free_space());
        if (k > 0)
          done += r.push(chunk.data() + done, k);
        else
          std::this_thread::yield();
      }
      next += n;
    }
  });
  std::vector<float> buf(23);
  int64_t got = 0, bad = 0;
  while (got < kTotal) {
    const int64_t k = r.pop(buf.data(), std::min<int64_t>(23, r.size()));
    for (int64_t i = 0; i < k; ++i) {
      if (buf[static_cast<size_t>(i)] != static_cast<float>((got + i) % 1000003)) ++bad;
    }
    got += k;
    if (k == 0) std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(got, kTotal);
  EXPECT_EQ(r.overrun_frames(), 0u);
  EXPECT_EQ(r.underrun_frames(), 0u);
}

}  // namespace
}  // namespace rvc
