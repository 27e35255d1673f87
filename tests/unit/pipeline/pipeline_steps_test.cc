// Unit tests of the pure steps of rvc::pipeline: numpy reflect padding, upstream's split search,
// vc_single's normalisation, the int16 scaling and parameter validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/pipeline/pipeline.h"

namespace rvc::pipeline {
namespace {

// numpy's "reflect" extension is periodic with period 2(n-1).
double reflected(const std::vector<double>& x, int64_t i) {
  const int64_t n = static_cast<int64_t>(x.size()), period = 2 * (n - 1);
  int64_t m = ((i % period) + period) % period;
  if (m >= n) m = period - m;
  return x[static_cast<size_t>(m)];
}

TEST(ReflectPad, MatchesNumpyExample) {
  // np.pad([1, 2, 3], 5, mode="reflect")
  const std::vector<double> want = {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2};
  EXPECT_EQ(reflect_pad({1, 2, 3}, 5), want);
  EXPECT_EQ(reflect_pad({1, 2, 3, 4}, 2), (std::vector<double>{3, 2, 1, 2, 3, 4, 3, 2}));
}

TEST(ReflectPad, PeriodicForAnyPadLength) {
  std::mt19937 rng(7);
  for (int n : {2, 3, 5, 19, 160}) {
    std::vector<double> x(static_cast<size_t>(n));
    for (double& v : x) v = std::uniform_real_distribution<double>(-1, 1)(rng);
    for (int64_t pad : {0, 1, n - 1, n, 3 * n + 1, 1000}) {
      const std::vector<double> y = reflect_pad(x, pad);
      ASSERT_EQ(static_cast<int64_t>(y.size()), n + 2 * pad);
      for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
        ASSERT_EQ(y[static_cast<size_t>(i)], reflected(x, i - pad)) << n << " " << pad << " " << i;
      }
    }
  }
  EXPECT_THROW(reflect_pad({1.0}, 3), Error);
}

TEST(PlanChunks, ShortInputIsOneChunk) {
  ChunkConfig cfg;
  const std::vector<double> x(16000 * 10, 0.1);
  const ChunkPlan p = plan_chunks(x, cfg);
  EXPECT_TRUE(p.cuts.empty());
  ASSERT_EQ(p.starts.size(), 1u);
  EXPECT_EQ(p.starts[0], 0);
  EXPECT_EQ(p.lengths[0], static_cast<int64_t>(x.size()) + 2 * 16000 * cfg.x_pad);
}

TEST(PlanChunks, CutsAtTheQuietestWindowNearEachCentre) {
  ChunkConfig cfg{1, 2, 5, 6};  // small seconds keep the test fast; same code path
  const int64_t n = 16000 * 17;
  std::vector<double> x(static_cast<size_t>(n));
  std::mt19937 rng(1);
  std::normal_distribution<double> g(0.0, 0.3);
  for (double& v : x) v = g(rng);
  // Quiet spots within +-2 s of 5 s, 10 s and 15 s.
  const std::vector<int64_t> quiet = {16000 * 4 + 1234, 16000 * 11 + 77, 16000 * 15};
  for (int64_t q : quiet) {
    for (int64_t i = q; i < q + 1600; ++i) x[static_cast<size_t>(i)] *= 1e-3;
  }
  const ChunkPlan p = plan_chunks(x, cfg);
  ASSERT_EQ(p.cuts.size(), quiet.size());
  for (size_t k = 0; k < quiet.size(); ++k) {
    EXPECT_GE(p.cuts[k], quiet[k] - 160) << k;
    EXPECT_LE(p.cuts[k], quiet[k] + 1600) << k;
    EXPECT_EQ(p.cuts[k] % 160, 0);
  }
  // Chunk k covers audio_pad[start, cut_k + 2 t_pad + 160); the next starts at cut_k.
  ASSERT_EQ(p.starts.size(), quiet.size() + 1);
  const int64_t t_pad2 = 2 * 16000 * cfg.x_pad;
  for (size_t k = 0; k < p.cuts.size(); ++k) {
    EXPECT_EQ(p.starts[k + 1], p.cuts[k]);
    EXPECT_EQ(p.starts[k] + p.lengths[k], p.cuts[k] + t_pad2 + 160);
  }
  EXPECT_EQ(p.starts.back() + p.lengths.back(), n + t_pad2);
}

TEST(NormalizeInput, PeakAbove095IsScaledDown) {
  std::vector<float> a = {0.5f, -2.0f, 1.0f};
  normalize_input(a);
  EXPECT_NEAR(a[1], -0.95f, 1e-7);
  EXPECT_NEAR(a[0], 0.2375f, 1e-7);
  std::vector<float> b = {0.5f, -0.9f, NAN, INFINITY};
  normalize_input(b);
  EXPECT_EQ(b, (std::vector<float>{0.5f, -0.9f, 0.0f, 0.0f}));
}

TEST(ToInt16, ScalesLikeUpstream) {
  EXPECT_EQ(to_int16({0.5f, -0.25f, -1e-5f}), (std::vector<int16_t>{16384, -8192, 0}));
  // Peak above 0.99: scaled to 0.99 * 32768 = 32440.32, truncated.
  const std::vector<int16_t> y = to_int16({2.0f, -1.0f, 0.0f});
  EXPECT_EQ(y[0], 32440);
  EXPECT_EQ(y[1], -16220);
  EXPECT_TRUE(to_int16({}).empty());
}

TEST(ReadF0File, ParsesUpstreamRowsAndNamesBadLines) {
  const std::string path = ::testing::TempDir() + "rvc_f0_file_test.txt";
  { std::ofstream(path) << "0.0,200\n0.5,300.5,extra\r\n\n1.25,0\n"; }
  const auto rows = read_f0_file(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1], (std::pair<double, double>{0.5, 300.5}));
  EXPECT_EQ(rows[2], (std::pair<double, double>{1.25, 0.0}));
  { std::ofstream(path) << "0.0,200\n0.5;300\n"; }
  try {
    read_f0_file(path);
    ADD_FAILURE() << "bad line accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
  EXPECT_THROW(read_f0_file(path), Error);
}

TEST(ConvertParams, DefaultsAreValidAndPrintable) {
  ConvertParams p;
  EXPECT_NO_THROW(p.validate());
  const std::string s = p.to_string();
  EXPECT_NE(s.find("f0_method=rmvpe"), std::string::npos) << s;
  EXPECT_NE(s.find("index_rate=0.75"), std::string::npos) << s;
  EXPECT_NE(s.find("x_center=38"), std::string::npos) << s;
}

TEST(ConvertParams, BadFieldsAreNamed) {
  auto message = [](const ConvertParams& p) {
    try {
      p.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ConvertParams p;
  p.index_rate = 1.5f;
  EXPECT_NE(message(p).find("index_rate"), std::string::npos);
  p = {};
  p.protect = 0.6f;
  EXPECT_NE(message(p).find("protect"), std::string::npos);
  p = {};
  p.f0_up_key = NAN;
  EXPECT_NE(message(p).find("f0_up_key"), std::string::npos);
  p = {};
  p.resample_sr = 8000;
  EXPECT_NE(message(p).find("resample_sr"), std::string::npos);
  p = {};
  p.f0_method = F0Method::kCurve;
  EXPECT_NE(message(p).find("f0_curve"), std::string::npos);
  p = {};
  p.chunk.x_pad = 0;
  EXPECT_NE(message(p).find("x_pad"), std::string::npos);
  p = {};
  p.chunk.x_center = 7;
  EXPECT_NE(message(p).find("x_center"), std::string::npos);
  p = {};
  p.f0_overrides = {{1.0, 100.0}, {0.5, 120.0}};
  EXPECT_NE(message(p).find("times must increase"), std::string::npos);
  EXPECT_EQ(parse_f0_method("yin"), F0Method::kYin);
  EXPECT_THROW(parse_f0_method("crepe"), Error);
}

}  // namespace
}  // namespace rvc::pipeline
