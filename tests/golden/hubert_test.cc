// Golden: HuBERT / ContentVec (fairseq HubertModel.extract_features) against every fixture case
// of kind "hubert" (every named output: conv_features, post_extract, feats_v1, feats_v2, layers)
// and against the HuBERT stage of every "pipeline" case (hubert_source_N -> hubert_out_N).
// Inputs, output layers and tolerances come from the manifests; an output this test does not
// know fails it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <utility>

#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/formats/npy.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rvc {
namespace {

using nlohmann::json;
using test::Case;

Tensor load_file(const Case& c, const json& entry) {
  return formats::read_npy(c.file(entry.at("file").get<std::string>()).string()).to_tensor();
}

// (atol, rtol) of manifest tolerance `key`, else of `fallback` (a sibling tensor of the same
// stage, never a looser default); a missing entry fails the test.
std::pair<double, double> tol(const Case& c, const std::string& key,
                              const std::string& fallback = "") {
  const auto& t = c.manifest.value("tolerances", json::object());
  const std::string k = t.contains(key) ? key : fallback;
  if (k.empty() || !t.contains(k)) {
    ADD_FAILURE() << c.name << ": manifest has no tolerance for " << key;
    return {0.0, 0.0};
  }
  return {t.at(k).value("atol", 0.0), t.at(k).value("rtol", 0.0)};
}

models::Hubert load_model(const Case& c, nn::Backend backend = nn::default_backend()) {
  const std::string file = c.manifest.at("files").at("hubert").at("file").get<std::string>();
  const formats::Checkpoint ck = formats::load_checkpoint(c.file(file).string());
  return models::Hubert(formats::read_hubert(ck), backend);
}

// Compares got [T][C] (time-major) against want of `want_shape` with leading 1s dropped;
// channel_major: want is [C][T] (upstream conv_features).
void expect_close(const std::string& what, const Tensor& got, const Tensor& want, double atol,
                  double rtol, bool channel_major = false) {
  ASSERT_EQ(got.ndim(), 2) << what;
  const int64_t t = got.dim(0), ch = got.dim(1);
  ASSERT_EQ(want.numel(), t * ch) << what << ": got " << shape_str(got.shape()) << ", want "
                                  << shape_str(want.shape());
  ASSERT_EQ(want.dim(-1), channel_major ? t : ch) << what;
  std::vector<float> ours(static_cast<size_t>(t * ch));  // got in want's element order
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t j = 0; j < ch; ++j) {
      ours[static_cast<size_t>(channel_major ? j * t + i : i * ch + j)] = got[i * ch + j];
    }
  }
  EXPECT_TRUE(test::all_close(what, ours.data(), want.data(), want.numel(), {atol, rtol}));
}

Tensor source_of(const Case& c) {
  const json& in = c.manifest.at("inputs");
  if (!in.contains("source")) {
    ADD_FAILURE() << c.name << ": hubert case without inputs.source";
    return Tensor();
  }
  return load_file(c, in.at("source"));
}

TEST(Hubert, HyperParametersFromCheckpoint) {
  for (const Case& c : test::cases_of_kind("hubert")) {
    SCOPED_TRACE(c.name);
    const models::Hubert model = load_model(c);
    const json& p = c.manifest.at("parameters");
    const json& cfg = p.at("model_cfg");
    EXPECT_EQ(model.hparams().layers, cfg.at("encoder_layers").get<int64_t>());
    EXPECT_EQ(model.hparams().embedding_dim, cfg.at("encoder_embed_dim").get<int64_t>());
    EXPECT_EQ(model.hparams().heads, cfg.at("encoder_attention_heads").get<int64_t>());
    EXPECT_EQ(model.hparams().final_dim, cfg.at("final_dim").get<int64_t>());
    const Tensor src = source_of(c);
    EXPECT_EQ(model.frames(src.numel()), p.at("frames").get<int64_t>());
  }
}

TEST(Hubert, EveryOutputMatchesUpstream) {
  const auto cases = test::cases_of_kind("hubert");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind hubert under " << test::fixtures_dir();
  for (const Case& c : cases) {
    for (nn::Backend backend : {nn::Backend::kFast, nn::Backend::kReference}) {
      SCOPED_TRACE(c.name + " " + nn::backend_name(backend));
      std::cout << c.name << " (" << nn::backend_name(backend) << " kernels)\n";
      const models::Hubert model = load_model(c, backend);
      const Tensor src = source_of(c);
      const json& p = c.manifest.at("parameters");
      const int v1 = p.value("output_layer_v1", 9), v2 = p.value("output_layer_v2", 12);
      models::HubertIntermediates all;
      // Every layer: run to the last one (output_layer 0 = all) with the intermediates.
      const Tensor last = model.forward(src.data(), src.numel(), 0, false, &all);
      ASSERT_EQ(static_cast<int64_t>(all.layers.size()), model.hparams().layers);
      for (const auto& [name, entry] : c.manifest.at("outputs").items()) {
        SCOPED_TRACE(name);
        const Tensor want = load_file(c, entry);
        // post_extract has no tolerance of its own in some manifests: use the layers' one.
        const auto [atol, rtol] = tol(c, name, "layers");
        if (name == "conv_features") {
          expect_close(name, all.conv_features, want, atol, rtol, /*channel_major=*/true);
        } else if (name == "post_extract") {
          expect_close(name, all.post_extract, want, atol, rtol);
        } else if (name == "feats_v1") {
          expect_close(name, model.forward(src.data(), src.numel(), v1, true), want, atol, rtol);
        } else if (name == "feats_v2") {
          expect_close(name, model.forward(src.data(), src.numel(), v2, false), want, atol, rtol);
        } else if (name == "layers") {
          ASSERT_EQ(want.ndim(), 3);
          ASSERT_EQ(want.dim(0), static_cast<int64_t>(all.layers.size()));
          const int64_t per = want.dim(1) * want.dim(2);
          for (int64_t i = 0; i < want.dim(0); ++i) {
            Tensor wi({want.dim(1), want.dim(2)}, want.data() + i * per);
            expect_close("layers[" + std::to_string(i) + "]", all.layers[static_cast<size_t>(i)],
                         wi, atol, rtol);
          }
          expect_close("last layer", last,
                       Tensor({want.dim(1), want.dim(2)}, want.data() + (want.dim(0) - 1) * per),
                       atol, rtol);
        } else {
          ADD_FAILURE() << c.name << ": unknown output '" << name << "' (test does not check it)";
        }
      }
    }
  }
}

TEST(Hubert, PipelineStageMatchesUpstream) {
  for (const Case& c : test::cases_of_kind("pipeline")) {
    SCOPED_TRACE(c.name);
    const json& outs = c.manifest.at("outputs");
    if (!c.manifest.at("files").contains("hubert")) continue;
    const models::Hubert model = load_model(c);
    const json& p = c.manifest.at("parameters");
    const std::string version = p.value("version", std::string("v2"));
    const bool v1 = version == "v1";
    int checked = 0;
    for (int i = 0;; ++i) {
      const std::string in_name = "hubert_source_" + std::to_string(i);
      const std::string out_name = "hubert_out_" + std::to_string(i);
      if (!outs.contains(in_name) || !outs.contains(out_name)) break;
      const Tensor src = load_file(c, outs.at(in_name));
      const Tensor want = load_file(c, outs.at(out_name));
      // ref: infer/modules/vc/pipeline.py Pipeline.vc: output_layer 9 (v1) or 12 (v2), and
      // final_proj on v1 only.
      const Tensor got = model.forward(src.data(), src.numel(), v1 ? 9 : 12, v1);
      const auto [atol, rtol] = tol(c, out_name, "hubert_out_0");
      expect_close(c.name + " " + out_name, got, want, atol, rtol);
      ++checked;
    }
    EXPECT_GT(checked, 0) << c.name << ": pipeline case with a hubert but no hubert_out_N";
  }
}

}  // namespace
}  // namespace rvc
