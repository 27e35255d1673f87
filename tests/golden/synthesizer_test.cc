// Golden test: the synthesizer against upstream infer() outputs, for every fixture case of kind
// "synthesizer" (driven by each manifest: inputs, outputs, parameters, tolerances).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/formats/npy.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rvc {
namespace {

using models::Synthesizer;
using models::SynthesizerConfig;
using models::SynthesizerOutputs;
using models::SynthesizerRequest;

// Upstream [1, C, T] -> our time-major [T][C]; [1, 1, N] -> [N].
Tensor to_upstream_layout(const Tensor& ours, const Shape& expected) {
  if (expected.size() == 3 && expected[1] > 1 && ours.ndim() == 2) {
    const int64_t t = ours.dim(0), c = ours.dim(1);
    Tensor r({1, c, t});
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) r[ch * t + i] = ours[i * c + ch];
    }
    return r;
  }
  Tensor r = ours;
  if (shape_numel(expected) == r.numel()) r.reshape(expected);
  return r;
}

void run_case(const test::Case& c, nn::Backend backend) {
  SCOPED_TRACE(c.name);
  const auto& m = c.manifest;
  auto ck = formats::load_checkpoint(c.file(m["files"]["model"]["file"]).string());
  auto info = formats::read_voice_model(ck);
  SynthesizerConfig cfg = SynthesizerConfig::from_voice_model(info);
  Synthesizer synth(cfg, info.weights, backend);

  auto input = [&](const std::string& name) {
    return formats::read_npy(c.file(m["inputs"][name]["file"]).string());
  };
  Tensor phone = input("phone").to_tensor();
  ASSERT_EQ(phone.ndim(), 3);
  const int64_t t = phone.dim(1);
  phone.reshape({t, phone.dim(2)});
  std::vector<int64_t> pitch;
  Tensor pitchf;
  if (cfg.f0) {
    pitch = input("pitch").to_int64();
    pitchf = input("pitchf").to_tensor();
    ASSERT_EQ(static_cast<int64_t>(pitch.size()), t);
    ASSERT_EQ(pitchf.numel(), t);
  }
  SynthesizerRequest rq;
  rq.phone = &phone;
  rq.pitch = cfg.f0 ? pitch.data() : nullptr;
  rq.pitchf = cfg.f0 ? pitchf.data() : nullptr;
  rq.phone_length = input("phone_lengths").to_int64().at(0);
  rq.sid = input("sid").to_int64().at(0);

  const auto& params = m["parameters"];
  SynthesizerOutputs offline = synth.infer(rq);

  SynthesizerRequest rt = rq;
  rt.skip_head = params.at("rt_skip_head").get<int64_t>();
  rt.return_length = params.at("rt_return_length").get<int64_t>();
  SynthesizerOutputs rt_out = synth.infer(rt);

  SynthesizerRequest rtf = rt;
  rtf.return_length2 = params.at("rt_return_length2").get<int64_t>();
  Tensor pitchf_scaled = pitchf;
  if (cfg.f0) {
    // rtrvc passes pitchf * return_length2 / return_length (float32 tensor * python float).
    const float s = static_cast<float>(params.at("rt_pitchf_scale").get<double>());
    for (int64_t i = 0; i < pitchf_scaled.numel(); ++i) pitchf_scaled[i] = pitchf[i] * s;
    rtf.pitchf = pitchf_scaled.data();
  }
  SynthesizerOutputs rtf_out = synth.infer(rtf);

  const std::set<std::string> known = {"audio", "m_p",      "logs_p",
                                       "z",     "audio_rt", "audio_rt_formant"};
  ASSERT_TRUE(m.contains("outputs"));
  for (const auto& [name, spec] : m["outputs"].items()) {
    if (!known.count(name)) {
      ADD_FAILURE() << c.name << ": manifest output '" << name << "' is not produced by this test";
      continue;
    }
    const Tensor* got = nullptr;
    if (name == "audio") got = &offline.audio;
    if (name == "m_p") got = &offline.m_p;
    if (name == "logs_p") got = &offline.logs_p;
    if (name == "z") got = &offline.z;
    if (name == "audio_rt") got = &rt_out.audio;
    if (name == "audio_rt_formant") got = &rtf_out.audio;
    Tensor want = formats::read_npy(c.file(spec["file"]).string()).to_tensor();
    EXPECT_TRUE(test::all_close(c.name + "/" + name + " (" + nn::backend_name(backend) + ")",
                                to_upstream_layout(*got, want.shape()), want,
                                test::tolerance_of(m, name)));
  }
}

TEST(SynthesizerGolden, AllCasesFast) {
  auto cases = test::cases_of_kind("synthesizer");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind synthesizer under "
                              << test::fixtures_dir();
  for (const auto& c : cases) run_case(c, nn::Backend::kFast);
}

TEST(SynthesizerGolden, AllCasesReference) {
  auto cases = test::cases_of_kind("synthesizer");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) run_case(c, nn::Backend::kReference);
}

}  // namespace
}  // namespace rvc
