// Golden: RMVPE front end (librosa mel filterbank, torch.stft log-mel) and the salience decoder,
// against every fixture case of kind "rmvpe". Shapes, parameters and tolerances come from each
// case's manifest.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>

#include "rvc/dsp/mel.h"
#include "rvc/dsp/pitch_decode.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rvc {
namespace {

using test::Case;

Shape manifest_shape(const Case& c, const std::string& section, const std::string& key) {
  return c.manifest.at(section).at(key).at("shape").get<Shape>();
}

dsp::LogMelConfig mel_config(const Case& c) {
  const auto& p = c.manifest.at("parameters").at("mel");
  dsp::LogMelConfig cfg;
  cfg.mel.sample_rate = p.at("sampling_rate").get<int>();
  cfg.mel.n_fft = p.at("n_fft").get<int>();
  cfg.mel.n_mels = p.at("n_mel_channels").get<int>();
  cfg.mel.fmin_hz = p.at("mel_fmin").get<double>();
  cfg.mel.fmax_hz = p.at("mel_fmax").get<double>();
  cfg.mel.htk = p.value("htk", true);
  cfg.hop = p.at("hop_length").get<int>();
  cfg.win_length = p.at("win_length").get<int>();
  cfg.clamp = p.value("clamp", 1e-5);
  EXPECT_TRUE(p.value("center", true)) << c.name << ": only center=True is modelled";
  return cfg;
}

std::vector<Case> rmvpe_cases() {
  auto cases = test::cases_of_kind("rmvpe");
  EXPECT_FALSE(cases.empty()) << "no fixture case of kind rmvpe under " << test::fixtures_dir();
  return cases;
}

TEST(RmvpeFrontend, MelBasisMatchesLibrosa) {
  for (const Case& c : rmvpe_cases()) {
    SCOPED_TRACE(c.name);
    const Tensor want = test::load_tensor(c, "outputs", "mel_basis");
    const Tensor got = dsp::mel_filterbank(mel_config(c).mel);
    ASSERT_EQ(got.shape(), want.shape());
    // librosa's float64 construction rounded to float32 twice: expect agreement to an ulp or so
    // (no manifest tolerance; the largest weight is ~0.06).
    double max_diff = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - want[i])));
    }
    std::cout << c.name << ": mel_basis max |diff| " << max_diff << "\n";
    EXPECT_LE(max_diff, 1e-8);
  }
}

TEST(RmvpeFrontend, LogMelMatchesTorch) {
  for (const Case& c : rmvpe_cases()) {
    SCOPED_TRACE(c.name);
    const Tensor audio = test::load_tensor(c, "inputs", "audio");
    const Tensor want = test::load_tensor(c, "outputs", "mel");
    const dsp::LogMelSpectrogram mel(mel_config(c));
    const Tensor got = mel.compute(audio.data(), audio.numel());
    const Shape shape = manifest_shape(c, "outputs", "mel");  // [1, n_mels, frames]
    ASSERT_EQ(shape.size(), 3u);
    ASSERT_EQ(got.shape(), (Shape{shape[1], shape[2]}));
    ASSERT_EQ(want.numel(), got.numel());
    EXPECT_TRUE(test::all_close(c.name + "/mel", got.data(), want.data(), want.numel(),
                                test::tolerance_of(c.manifest, "mel")));
  }
}

TEST(RmvpeFrontend, DecodeMatchesUpstream) {
  for (const Case& c : rmvpe_cases()) {
    SCOPED_TRACE(c.name);
    const Tensor sal = test::load_tensor(c, "outputs", "salience");
    const Tensor want = test::load_tensor(c, "outputs", "f0");
    ASSERT_EQ(sal.ndim(), 2);
    const int64_t frames = sal.dim(0);
    const int bins = static_cast<int>(sal.dim(1));
    ASSERT_EQ(want.numel(), frames);
    const float thred = c.manifest.at("parameters").value("thred", 0.03f);
    const std::vector<double> got = dsp::rmvpe_decode(sal.data(), frames, bins, thred);
    ASSERT_EQ(static_cast<int64_t>(got.size()), frames);
    EXPECT_TRUE(test::f0_close(c.name + "/f0", got, want, sal, thred,
                               test::tolerance_of(c.manifest, "f0")));
    EXPECT_TRUE(std::any_of(want.data(), want.data() + want.numel(), [](float f) { return f > 0; }))
        << "the case should have voiced frames";
  }
}

}  // namespace
}  // namespace rvc
