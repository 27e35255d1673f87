// Golden test: the whole offline conversion (rvc::pipeline::Pipeline) against upstream
// Pipeline.pipeline, for every fixture case of kind "pipeline". Everything comes from the
// manifest: model / hubert / index / input files, parameters, the F0 estimator's curve for the
// padded audio (inputs.f0_estimator), and every listed output is compared with the intermediate
// the pipeline's observer reports under the same name. An output name the pipeline does not
// report fails the test.
//
// Tolerances: the manifest's where given. Float outputs without one get 1e-4 abs or rel (the
// README's limit for features; the float64-vs-float32 differences upstream reports are ~1e-5).
// Integer outputs without one must match exactly (coarse pitch, p_len, sid).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "rvc/formats/audio_file.h"
#include "rvc/formats/npy.h"
#include "rvc/pipeline/pipeline.h"
#include "support/fixtures.h"
#include "support/golden.h"
#include "support/voice_fixture.h"

namespace rvc {
namespace {

using pipeline::ConvertParams;
using pipeline::Observed;
using test::Case;

struct Captured {
  Shape shape;
  bool integer = false;
  std::vector<double> v;
};

void compare(const std::string& name, const Captured& got, const formats::NpyArray& want,
             const test::Tolerance& tol) {
  ASSERT_EQ(shape_str(got.shape), shape_str(want.shape)) << name << ": shape";
  const std::vector<double> w = test::as_doubles(want);
  ASSERT_EQ(got.v.size(), w.size()) << name;
  EXPECT_TRUE(test::all_close(name, got.v.data(), w.data(), static_cast<int64_t>(w.size()), tol));
}

ConvertParams params_of(const Case& c) {
  const auto& p = c.manifest.at("parameters");
  ConvertParams cp;
  cp.sid = p.at("sid").get<int64_t>();
  cp.f0_up_key = p.at("f0_up_key").get<double>();
  cp.index_rate = p.at("index_rate").get<float>();
  cp.filter_radius = p.at("filter_radius").get<int>();
  cp.resample_sr = p.at("resample_sr").get<int>();
  cp.rms_mix_rate = p.at("rms_mix_rate").get<double>();
  cp.protect = p.at("protect").get<float>();
  cp.chunk.x_pad = p.at("x_pad").get<int>();
  cp.chunk.x_query = p.at("x_query").get<int>();
  cp.chunk.x_center = p.at("x_center").get<int>();
  cp.chunk.x_max = p.at("x_max").get<int>();
  cp.noise = false;  // the fixtures' no-noise patch
  if (p.contains("f0_file") && !p["f0_file"].is_null()) {
    const auto& files = c.manifest.at("files");
    if (files.contains("f0_file")) {
      cp.f0_overrides = pipeline::read_f0_file(c.file(files["f0_file"].at("file")).string());
    } else {
      ADD_FAILURE() << "parameters.f0_file is set but files has no f0_file entry";
    }
  }
  if (c.manifest.at("inputs").contains("f0_estimator")) {
    // What the replaced estimator returned for the padded audio (float64 upstream).
    const Tensor f0 = test::load_array(c, "inputs", "f0_estimator").to_tensor();
    cp.f0_method = pipeline::F0Method::kCurve;
    cp.f0_curve.assign(f0.data(), f0.data() + f0.numel());
  }
  return cp;
}

// The `audio` argument of Pipeline.pipeline: input_wav (16 kHz PCM) through vc_single's
// normalisation when the case has one, else inputs.audio as is.
std::vector<float> input_of(const Case& c, ConvertParams* cp) {
  const auto& files = c.manifest.at("files");
  if (files.contains("input_wav")) {
    formats::Audio a = formats::read_audio_mono(c.file(files["input_wav"].at("file")).string());
    EXPECT_EQ(a.sample_rate, 16000) << "input_wav must be 16 kHz";
    cp->normalize_input = true;
    if (c.manifest.at("inputs").contains("audio")) {
      std::vector<float> norm = a.samples;
      pipeline::normalize_input(norm);
      const Tensor want = test::load_array(c, "inputs", "audio").to_tensor();
      EXPECT_EQ(static_cast<int64_t>(norm.size()), want.numel());
      double d = 0;
      for (int64_t i = 0; i < std::min<int64_t>(want.numel(), norm.size()); ++i) {
        d = std::max(d, std::abs(double(norm[static_cast<size_t>(i)]) - want[i]));
      }
      EXPECT_LE(d, 1e-7) << "wav read + vc_single normalisation vs inputs.audio";
    }
    return a.samples;
  }
  cp->normalize_input = false;
  const Tensor t = test::load_array(c, "inputs", "audio").to_tensor();
  return std::vector<float>(t.data(), t.data() + t.numel());
}

TEST(PipelineGolden, EveryIntermediateMatchesUpstream) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline under " << test::fixtures_dir();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::cout << c.name << ":\n";
    const auto& files = c.manifest.at("files");
    const auto& p = c.manifest.at("parameters");
    pipeline::VoiceModelPaths paths = test::voice_paths(c);
    if (files.contains("rmvpe")) paths.rmvpe = c.file(files["rmvpe"].at("file")).string();
    const auto models = pipeline::VoiceModels::load(paths);
    EXPECT_EQ(models->sample_rate_hz(), p.at("tgt_sr").get<int>());
    EXPECT_EQ(models->info().version, p.at("version").get<std::string>());
    EXPECT_EQ(models->has_f0() ? 1 : 0, p.at("if_f0").get<int>());
    EXPECT_EQ(p.at("window").get<int>(), 160);
    EXPECT_EQ(p.at("t_pad").get<int64_t>(), 16000 * p.at("x_pad").get<int64_t>());
    EXPECT_EQ(p.at("t_pad_tgt").get<int64_t>(),
              int64_t{models->sample_rate_hz()} * p.at("x_pad").get<int64_t>());

    ConvertParams cp = params_of(c);
    const std::vector<float> audio = input_of(c, &cp);
    std::map<std::string, Captured> seen;
    pipeline::ConvertHooks hooks;
    hooks.observer = [&](const Observed& o) {
      Captured& cap = seen[std::string(o.name)];
      cap.shape = o.shape;
      const int64_t n = shape_numel(o.shape);
      cap.integer = o.f32 == nullptr;
      cap.v.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        cap.v[static_cast<size_t>(i)] = o.f32   ? double(o.f32[i])
                                        : o.i64 ? double(o.i64[i])
                                                : double(o.i16[i]);
      }
    };
    double last_progress = -1;
    hooks.progress = [&](double f) {
      EXPECT_GE(f, last_progress);
      last_progress = f;
    };
    const pipeline::Pipeline pipe(models);
    const pipeline::ConvertResult res = pipe.convert(audio, cp, hooks);
    EXPECT_EQ(last_progress, 1.0);

    // The split upstream made.
    if (p.contains("n_chunks")) {
      EXPECT_EQ(static_cast<int64_t>(res.chunks.starts.size()), p["n_chunks"].get<int64_t>());
    }
    if (p.contains("chunk_starts_in_audio_pad")) {
      EXPECT_EQ(res.chunks.starts, p["chunk_starts_in_audio_pad"].get<std::vector<int64_t>>());
    }
    if (p.contains("chunk_lengths_in_audio_pad")) {
      EXPECT_EQ(res.chunks.lengths, p["chunk_lengths_in_audio_pad"].get<std::vector<int64_t>>());
    }

    for (const auto& [name, spec] : c.manifest.at("outputs").items()) {
      const auto it = seen.find(name);
      if (it == seen.end()) {
        ADD_FAILURE() << "output '" << name << "' of the manifest is not an intermediate the "
                      << "pipeline reports";
        continue;
      }
      const formats::NpyArray want = test::load_array(c, "outputs", name);
      // Integer outputs (lengths, ids, coarse pitch) must match exactly unless the manifest says.
      const test::Tolerance fallback =
          it->second.integer ? test::Tolerance{0.0, 0.0} : test::Tolerance{};
      compare(name, it->second, want, test::tolerance_of(c.manifest, name, fallback));
    }
    // The returned value is the reported audio_out.
    const auto out = seen.find("audio_out");
    ASSERT_NE(out, seen.end());
    ASSERT_EQ(out->second.v.size(), res.pcm16.size());
    for (size_t i = 0; i < res.pcm16.size(); ++i) ASSERT_EQ(out->second.v[i], res.pcm16[i]);
    EXPECT_EQ(res.sample_rate_hz, pipe.output_sample_rate(cp));
  }
}

}  // namespace
}  // namespace rvc
