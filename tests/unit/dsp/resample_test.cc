#include "rvc/dsp/resample.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "rvc/core/error.h"

// Counts allocations so the streaming resampler can prove it allocates nothing in process().
static std::atomic<long> g_news{0};
void* operator new(std::size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace rvc::dsp {
namespace {

std::vector<float> sine(int64_t n, double hz, int sr) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / sr));
  return v;
}

// Frequency from rising zero crossings between the first and last one in [lo, hi).
double measured_hz(const std::vector<float>& x, int sr, size_t lo, size_t hi) {
  double first = -1, last = -1;
  int count = 0;
  for (size_t i = lo + 1; i < hi; ++i) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      const double t = (i - 1) + x[i - 1] / (x[i - 1] - x[i]);
      if (first < 0)
        first = t;
      else
        ++count;
      last = t;
    }
  }
  return count > 0 ? count * sr / (last - first) : 0.0;
}

const int kRates[] = {16000, 40000, 48000, 44100};

TEST(Resample, OfflineKeepsFrequencyAndLength) {
  for (int from : kRates) {
    for (int to : kRates) {
      SCOPED_TRACE(std::to_string(from) + " -> " + std::to_string(to));
      const int64_t n = from / 2 + 123;
      const auto y = resample(sine(n, 441.0, from), from, to);
      EXPECT_EQ(static_cast<int64_t>(y.size()), std::llround(static_cast<double>(n) * to / from));
      EXPECT_NEAR(measured_hz(y, to, y.size() / 10, y.size() * 9 / 10), 441.0, 0.05);
      double peak = 0;
      for (size_t i = y.size() / 10; i < y.size() * 9 / 10; ++i)
        peak = std::max(peak, double(std::fabs(y[i])));
      EXPECT_NEAR(peak, 0.5, 0.01);
    }
  }
  EXPECT_TRUE(resample(std::vector<float>{}, 16000, 48000).empty());
  EXPECT_THROW(resample(sine(10, 1, 2), 0, 16000), Error);
}

std::vector<float> stream_all(StreamResampler& r, const std::vector<float>& x, int block) {
  std::vector<float> y, out(static_cast<size_t>(r.max_output(block) + 16));
  for (size_t i = 0; i < x.size(); i += block) {
    const int64_t n = std::min<int64_t>(block, static_cast<int64_t>(x.size() - i));
    out.resize(static_cast<size_t>(std::max<int64_t>(r.max_output(n), 1)));
    const int64_t got = r.process(x.data() + i, n, out.data(), static_cast<int64_t>(out.size()));
    EXPECT_LE(got, r.max_output(0) + static_cast<int64_t>(out.size()));
    y.insert(y.end(), out.begin(), out.begin() + got);
  }
  return y;
}

TEST(StreamResampler, KeepsFrequencyAndMatchesOffline) {
  for (int from : kRates) {
    for (int to : kRates) {
      SCOPED_TRACE(std::to_string(from) + " -> " + std::to_string(to));
      StreamResampler r(from, to, 512);
      const auto x = sine(from, 441.0, from);
      auto padded = x;
      padded.insert(padded.end(), static_cast<size_t>(r.delay_frames()), 0.0f);
      const auto y = stream_all(r, padded, 512);
      // After draining with delay_frames() zeros, one output per 1/to second of input.
      EXPECT_NEAR(static_cast<double>(y.size()), static_cast<double>(x.size()) * to / from, 2.0);
      EXPECT_NEAR(measured_hz(y, to, y.size() / 10, y.size() * 9 / 10), 441.0, 0.05);
      // Time-aligned with the offline result away from the edges.
      const auto ref = resample(x, from, to);
      double worst = 0;
      for (size_t i = ref.size() / 10; i < ref.size() * 9 / 10; ++i) {
        worst = std::max(worst, double(std::fabs(y[i] - ref[i])));
      }
      EXPECT_LT(worst, 2e-3);
    }
  }
}

TEST(StreamResampler, BlockSizeDoesNotChangeOutput) {
  const auto x = sine(20000, 1234.5, 48000);
  StreamResampler a(48000, 16000, 4096), b(48000, 16000, 100);
  const auto ya = stream_all(a, x, 4096);
  const auto yb = stream_all(b, x, 37);
  ASSERT_EQ(ya.size(), yb.size());
  for (size_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya[i], yb[i]) << i;
  b.reset();
  EXPECT_EQ(stream_all(b, x, 37), yb);
}

TEST(StreamResampler, ProcessDoesNotAllocate) {
  StreamResampler r(16000, 40000, 160);
  const auto x = sine(1600, 300, 16000);
  std::vector<float> out(static_cast<size_t>(r.max_output(160) + 8));
  const long before = g_news.load();
  for (int i = 0; i < 10; ++i) r.process(x.data() + i * 160, 160, out.data(), out.size());
  r.process(x.data(), 1000, out.data(), out.size());  // larger than max_block: split inside
  EXPECT_EQ(g_news.load(), before);
}

TEST(StreamResampler, RefusesBadRates) {
  EXPECT_THROW(StreamResampler(0, 16000, 10), Error);
  EXPECT_THROW(StreamResampler(16000, 16000, 0), Error);
  EXPECT_THROW(StreamResampler(44101, 48000, 10), Error);
}

}  // namespace
}  // namespace rvc::dsp
