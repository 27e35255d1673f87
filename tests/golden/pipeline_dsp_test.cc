// Golden: the signal processing of upstream Pipeline.pipeline (infer/modules/vc/pipeline.py)
// against every fixture case of kind "pipeline": the 48 Hz Butterworth high-pass through scipy
// filtfilt, the pitch shift + coarse quantisation of get_f0, and change_rms. Parameters and
// shapes come from each manifest.
//
// Tolerances picked here (the manifests list none for these arrays):
// - audio_filtfilt: 1e-5 abs. Upstream is float64 stored as float32 (rounding ~3e-8); lfilter_zi
//   is ill-conditioned (cond ~1e11) so the initial state differs from scipy's LAPACK solve by
//   ~1e-7 relative, which only touches the first few hundred samples.
// - audio_after_rms: 1e-5 abs (float32 audio of magnitude < 1; the gain is a float64 product).
// - coarse pitch exact, pitchf 1e-6 relative (float64 shift rounded to float32).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "rvc/dsp/f0.h"
#include "rvc/dsp/filters.h"
#include "rvc/dsp/rms.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

using test::Case;

constexpr int kHubertSr = 16000;  // Pipeline.sr: upstream's fixed 16 kHz analysis rate

formats::NpyArray load(const Case& c, const std::string& section, const std::string& key) {
  const std::string file = c.manifest.at(section).at(key).at("file").get<std::string>();
  return formats::read_npy(c.file(file).string());
}

std::vector<Case> pipeline_cases() {
  auto cases = test::cases_of_kind("pipeline");
  EXPECT_FALSE(cases.empty()) << "no fixture case of kind pipeline under " << test::fixtures_dir();
  return cases;
}

std::vector<double> filtered_input(const Case& c) {
  const Tensor audio = load(c, "inputs", "audio").to_tensor();
  return dsp::filtfilt(dsp::rvc_highpass_16k(), audio.data(), audio.numel());
}

TEST(PipelineDsp, HighPassFiltfiltMatchesScipy) {
  for (const Case& c : pipeline_cases()) {
    SCOPED_TRACE(c.name);
    const Tensor want = load(c, "outputs", "audio_filtfilt").to_tensor();
    const std::vector<double> got = filtered_input(c);
    ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel());
    double max_diff = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      max_diff = std::max(max_diff, std::abs(got[static_cast<size_t>(i)] - want[i]));
    }
    std::cout << c.name << ": filtfilt max |diff| " << max_diff << "\n";
    EXPECT_LE(max_diff, 1e-5);
  }
}

TEST(PipelineDsp, PitchShiftAndCoarseMatchGetF0) {
  for (const Case& c : pipeline_cases()) {
    SCOPED_TRACE(c.name);
    const auto& p = c.manifest.at("parameters");
    if (p.value("if_f0", 1) != 1) continue;
    const Tensor f0_est = load(c, "inputs", "f0_estimator").to_tensor();
    const std::vector<int64_t> want_pitch = load(c, "outputs", "infer_pitch_0").to_int64();
    const Tensor want_pitchf = load(c, "outputs", "infer_pitchf_0").to_tensor();
    ASSERT_EQ(static_cast<int64_t>(want_pitch.size()), want_pitchf.numel());
    // Chunk 0 starts at frame 0 of the padded audio, so it is a prefix of get_f0's output.
    ASSERT_LE(want_pitchf.numel(), f0_est.numel());
    const double ratio = std::pow(2.0, p.at("f0_up_key").get<double>() / 12.0);
    int64_t bad = 0;
    for (int64_t t = 0; t < want_pitchf.numel(); ++t) {
      const double f0 = static_cast<double>(f0_est[t]) * ratio;  // float64, as upstream
      const int64_t coarse = dsp::f0_to_coarse(f0);
      const float pitchf = static_cast<float>(f0);
      const bool ok = coarse == want_pitch[static_cast<size_t>(t)] &&
                      std::abs(pitchf - want_pitchf[t]) <= 1e-6 * std::abs(want_pitchf[t]);
      if (!ok && ++bad <= 5) {
        ADD_FAILURE() << "frame " << t << ": coarse " << coarse << " vs "
                      << want_pitch[static_cast<size_t>(t)] << ", pitchf " << pitchf << " vs "
                      << want_pitchf[t];
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

TEST(PipelineDsp, ChangeRmsMatchesUpstream) {
  for (const Case& c : pipeline_cases()) {
    SCOPED_TRACE(c.name);
    const auto& p = c.manifest.at("parameters");
    const double rate = p.at("rms_mix_rate").get<double>();
    if (rate == 1.0) continue;  // upstream skips change_rms
    const int tgt_sr = p.at("tgt_sr").get<int>();
    const int64_t t_pad_tgt = p.at("t_pad_tgt").get<int64_t>();
    const int n_chunks = p.value("n_chunks", 1);
    // audio_opt = concat(chunk outputs trimmed by t_pad_tgt on both sides).
    std::vector<float> opt;
    for (int k = 0; k < n_chunks; ++k) {
      const std::string key = "infer_audio_" + std::to_string(k);
      if (!c.manifest.at("outputs").contains(key)) GTEST_SKIP() << "no " << key << " in " << c.name;
      const Tensor chunk = load(c, "outputs", key).to_tensor();
      ASSERT_GT(chunk.numel(), 2 * t_pad_tgt);
      opt.insert(opt.end(), chunk.data() + t_pad_tgt, chunk.data() + chunk.numel() - t_pad_tgt);
    }
    const Tensor want = load(c, "outputs", "audio_after_rms").to_tensor();
    ASSERT_EQ(static_cast<int64_t>(opt.size()), want.numel());
    // data1 is the high-passed input (pipeline.py: `audio = signal.filtfilt(...)` rebinds it).
    const std::vector<double> data1 = filtered_input(c);
    dsp::change_rms(data1.data(), static_cast<int64_t>(data1.size()), kHubertSr, opt.data(),
                    static_cast<int64_t>(opt.size()), tgt_sr, rate);
    double max_diff = 0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      max_diff =
          std::max(max_diff, static_cast<double>(std::abs(opt[static_cast<size_t>(i)] - want[i])));
    }
    std::cout << c.name << ": change_rms max |diff| " << max_diff << "\n";
    EXPECT_LE(max_diff, 1e-5);
  }
}

}  // namespace
}  // namespace rvc
