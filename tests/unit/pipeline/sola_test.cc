// Sola: blocks cut from one continuous signal at jittered positions must be rejoined into that
// signal exactly (no discontinuity at the joins), with the offset equal to the known jitter.
#include "rvc/pipeline/sola.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "rvc/core/error.h"

namespace rvc::pipeline {
namespace {

std::vector<float> sine(int64_t n, double hz, int sr) {
  std::vector<float> s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    s[static_cast<size_t>(i)] = static_cast<float>(0.5 * std::sin(2 * M_PI * hz * i / sr + 0.3));
  }
  return s;
}

std::vector<float> noise(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.3f);
  std::vector<float> s(static_cast<size_t>(n));
  for (auto& v : s) v = d(rng);
  return s;
}

// Block k is the signal from k*block + jitter_k; the first jitter is `search`, so emitted block k
// must be exactly signal[k*block + search, (k+1)*block + search) and the offset search - jitter_k.
void check_rejoin(const std::vector<float>& s, int64_t block, int64_t buffer, int64_t search,
                  uint32_t seed) {
  Sola sola(block, buffer, search);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> jit(0, search);
  const int64_t n_blocks = (static_cast<int64_t>(s.size()) - sola.input_frames() - search) / block;
  ASSERT_GT(n_blocks, 10);
  std::vector<float> out(static_cast<size_t>(block));
  double max_err = 0.0;
  int wrong_offsets = 0;
  for (int64_t k = 0; k < n_blocks; ++k) {
    const int64_t j = k == 0 ? search : jit(rng);
    const int64_t offset = sola.process(s.data() + k * block + j, out.data());
    if (offset != search - j) ++wrong_offsets;
    if (k == 0) continue;  // the first block fades in from silence
    for (int64_t i = 0; i < block; ++i) {
      const double want = s[static_cast<size_t>(k * block + search + i)];
      max_err = std::max(max_err, std::abs(out[static_cast<size_t>(i)] - want));
    }
  }
  EXPECT_EQ(wrong_offsets, 0);
  EXPECT_LT(max_err, 1e-5);
}

TEST(Sola, ContinuousSineIsRejoinedWithoutDiscontinuity) {
  const int sr = 16000;
  // 50 Hz: one period (320 samples) is longer than the 160-sample search, so the lag is unique.
  check_rejoin(sine(sr * 3, 50.0, sr), 1600, 640, 160, 1);
  check_rejoin(sine(sr * 3, 73.0, sr), 800, 400, 160, 2);
}

TEST(Sola, FindsKnownShiftInNoise) {
  check_rejoin(noise(48000 * 2, 3), 2400, 1920, 480, 4);
  check_rejoin(noise(48000 * 2, 5), 512, 256, 64, 6);
}

TEST(Sola, FadeWindowsAndEdgeCases) {
  Sola sola(100, 40, 10);
  const auto& w = sola.fade_in();
  ASSERT_EQ(w.size(), 40u);
  EXPECT_FLOAT_EQ(w.front(), 0.0f);
  EXPECT_FLOAT_EQ(w.back(), 1.0f);
  for (size_t i = 1; i < w.size(); ++i) EXPECT_GE(w[i], w[i - 1]);
  EXPECT_NEAR(w[20] + w[19], 1.0f, 1e-6);  // symmetric: fade_in(t) + fade_in(1 - t) = 1
  // A fresh (silent) tail gives offset 0 and a pure fade-in.
  std::vector<float> x(static_cast<size_t>(sola.input_frames()), 1.0f), out(100);
  EXPECT_EQ(sola.process(x.data(), out.data()), 0);
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_FLOAT_EQ(out[50], 1.0f);
  for (int i = 0; i < 40; ++i) EXPECT_FLOAT_EQ(sola.tail()[i], 1.0f);
  sola.reset();
  EXPECT_FLOAT_EQ(sola.tail()[0], 0.0f);
  // No crossfade at all: the block passes through.
  Sola plain(8, 0, 0);
  std::vector<float> y = {1, 2, 3, 4, 5, 6, 7, 8}, o(8);
  EXPECT_EQ(plain.process(y.data(), o.data()), 0);
  EXPECT_EQ(o, y);
  EXPECT_THROW(Sola(0, 1, 1), Error);
  EXPECT_THROW(Sola(8, -1, 1), Error);
}

}  // namespace
}  // namespace rvc::pipeline
