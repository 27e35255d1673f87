// pipeline::rmvpe_f0: inputs up to whole_max_s run in one RMVPE call as upstream does (identical);
// longer ones run in windows on the U-Net's pooling grid (bounded memory), each window exactly a
// standalone call on its audio. How far windows are from one whole call is printed for every
// fixture case of kind rmvpe.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/pipeline.h"
#include "support/fixtures.h"

namespace rvc::pipeline {
namespace {

// Speech-like: a gliding harmonic voice with syllables and pauses, plus a little noise.
std::vector<float> speechlike(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 0.01f);
  double phase = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000;
    const double f0 = 120 + 40 * std::sin(2 * M_PI * 0.3 * t) + 10 * std::sin(2 * M_PI * 5 * t);
    phase += 2 * M_PI * f0 / 16000;
    const double env = std::max(0.0, std::sin(2 * M_PI * 2.1 * t)) * (std::fmod(t, 4.0) < 3.4);
    double v = 0;
    for (int h = 1; h <= 8; ++h) v += std::sin(h * phase) / h;
    x[static_cast<size_t>(i)] = static_cast<float>(0.2 * env * v) + noise(rng);
  }
  return x;
}

TEST(PipelineRmvpeWindow, LongInputRunsInGridAlignedWindowsShortInputRunsWhole) {
  nn::set_num_threads(1);
  const auto cases = test::cases_of_kind("rmvpe");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind rmvpe";
  const std::vector<float> audio = speechlike(int64_t{16000} * 75);
  const auto n = static_cast<int64_t>(audio.size());
  for (const test::Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& tol = c.manifest.at("tolerances").at("f0");
    const double atol = tol.at("atol").get<double>(), rtol = tol.value("rtol", 0.0);
    const formats::Checkpoint ck = formats::load_checkpoint(
        c.file(c.manifest.at("files").at("rmvpe").at("file").get<std::string>()).string());
    const models::Rmvpe rmvpe(formats::read_rmvpe(ck));
    const float thr = c.manifest.at("parameters").value("thred", 0.03f);

    // Up to whole_max_s: one call, bit-identical to upstream's single call.
    const int64_t short_n = int64_t{16000} * 5;
    EXPECT_EQ(rmvpe_f0(rmvpe, audio.data(), short_n, thr),
              rmvpe.infer_f0(audio.data(), short_n, thr));

    // Longer: every window's kept frames are exactly what one call on that window's audio gives
    // (frame alignment, U-Net pooling grid, last window reaching the end of the input).
    RmvpeWindow w;
    w.whole_max_s = 10;
    w.core_s = 20;
    w.context_s = 2;
    ASSERT_LT(w.whole_max_s * 16000, static_cast<double>(n));
    const std::vector<double> got = rmvpe_f0(rmvpe, audio.data(), n, thr, w);
    ASSERT_EQ(static_cast<int64_t>(got.size()), n / 160 + 1);
    const int64_t grid = int64_t{1} << rmvpe.hparams().en_de_layers;
    const int64_t core = (2000 + grid - 1) / grid * grid, ctx = (200 + grid - 1) / grid * grid;
    const int64_t frames = static_cast<int64_t>(got.size());
    for (int64_t a = 0; a < frames; a += core) {
      const int64_t b = std::min(a + core, frames), first = std::max<int64_t>(a - ctx, 0);
      const int64_t s1 = b + ctx >= frames ? n : (b + ctx) * 160;
      const auto part = rmvpe.infer_f0(audio.data() + first * 160, s1 - first * 160, thr);
      for (int64_t f = a; f < b; ++f) {
        ASSERT_EQ(got[static_cast<size_t>(f)], part[static_cast<size_t>(f - first)])
            << "frame " << f;
      }
    }

    // How close windows come to upstream's single whole-input call (printed, not asserted:
    // RMVPE's BiGRU carries state across the whole input, so no finite context is exact).
    const std::vector<double> whole = rmvpe.infer_f0(audio.data(), n, thr);
    const std::vector<double> dflt = rmvpe_f0(rmvpe, audio.data(), n, thr, RmvpeWindow{0, 32, 2});
    int64_t off = 0, flips = 0;
    for (size_t i = 0; i < whole.size(); ++i) {
      if ((dflt[i] > 0) != (whole[i] > 0)) {
        ++flips;
      } else if (std::abs(dflt[i] - whole[i]) > atol + rtol * std::abs(whole[i])) {
        ++off;
      }
    }
    std::cout << c.name << ": 75 s in 32 s windows + 2 s context vs one call: " << whole.size()
              << " frames, " << flips << " voicing flips, " << off
              << " voiced frames beyond the golden f0 tolerance\n";
  }
}

TEST(PipelineRmvpeWindow, BadSettingsAndShortInputAreRefused) {
  RmvpeWindow w;
  w.core_s = 0;
  EXPECT_THROW(w.validate(), Error);
  w = {};
  w.context_s = -1;
  EXPECT_THROW(w.validate(), Error);
  ConvertParams p;
  p.rmvpe_window.whole_max_s = -3;
  EXPECT_THROW(p.validate(), Error);
}

}  // namespace
}  // namespace rvc::pipeline
