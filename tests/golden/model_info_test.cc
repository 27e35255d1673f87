// Golden: every model / hubert / rmvpe file named by a fixture manifest loads, is detected as the
// right kind, and its hyper-parameters match the manifest's `parameters`.
#include <gtest/gtest.h>

#include "rvc/formats/model_info.h"
#include "support/fixtures.h"

namespace rvc::formats {
namespace {

using nlohmann::json;

const json* param(const json& params, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (params.contains(k) && !params[k].is_null()) return &params[k];
  }
  return nullptr;
}

void check_voice(const test::Case& c, const std::string& file) {
  SCOPED_TRACE(c.name + "/" + file);
  Checkpoint ck = load_checkpoint(c.file(file).string());
  EXPECT_EQ(detect_kind(ck).name, "rvc-voice") << detect_kind(ck).reason;
  VoiceModelInfo v = read_voice_model(ck);
  const json& p = c.manifest["parameters"];
  const json* cfg = param(p, {"config", "synth_config"});
  ASSERT_NE(cfg, nullptr) << "manifest has no config list";
  EXPECT_EQ(v.config_json, *cfg);
  EXPECT_EQ(v.sample_rate_hz, (*cfg)[17].get<int64_t>());
  EXPECT_EQ(v.config.upsample_rates, (*cfg)[12].get<std::vector<int64_t>>());
  EXPECT_EQ(v.config.resblock, (*cfg)[9].get<std::string>());
  if (const json* x = param(p, {"version"})) {
    EXPECT_EQ(v.version, x->get<std::string>());
  }
  if (const json* x = param(p, {"f0", "if_f0"})) {
    EXPECT_EQ(v.has_f0, x->get<int>() != 0);
  }
  if (const json* x = param(p, {"sr"})) {
    EXPECT_EQ(v.sr, x->get<std::string>());
  }
  if (const json* x = param(p, {"tgt_sr"})) {
    EXPECT_EQ(v.sample_rate_hz, x->get<int64_t>());
  }
  if (const json* x = param(p, {"info"})) {
    EXPECT_EQ(v.info, x->get<std::string>());
  }
  if (const json* x = param(p, {"weight_keys"})) {
    EXPECT_EQ(v.weights.size(), x->get<size_t>());
  }
  if (const json* x = param(p, {"tiny_shape"})) {
    EXPECT_EQ(v.speakers, (*x)["spk_embed_dim"].get<int64_t>());
    EXPECT_EQ(v.config.gin_channels, (*x)["gin_channels"].get<int64_t>());
  }
  EXPECT_EQ(v.embedding_dim, v.version == "v1" ? 256 : 768);
  ASSERT_TRUE(v.weights.count("emb_g.weight"));
  EXPECT_EQ(v.weights.at("emb_g.weight").dim(0), v.speakers);
}

void check_hubert(const test::Case& c, const std::string& file) {
  SCOPED_TRACE(c.name + "/" + file);
  Checkpoint ck = load_checkpoint(c.file(file).string());
  EXPECT_EQ(detect_kind(ck).name, "hubert") << detect_kind(ck).reason;
  HubertInfo h = read_hubert(ck);
  const json& p = c.manifest["parameters"];
  const json* cfg = param(p, {"model_cfg", "hubert_cfg"});
  ASSERT_NE(cfg, nullptr) << "manifest has no hubert config";
  auto want = [&](const char* k) { return (*cfg)[k].get<int64_t>(); };
  EXPECT_EQ(h.layers, want("encoder_layers"));
  EXPECT_EQ(h.embedding_dim, want("encoder_embed_dim"));
  EXPECT_EQ(h.ffn_dim, want("encoder_ffn_embed_dim"));
  EXPECT_EQ(h.heads, want("encoder_attention_heads"));
  EXPECT_EQ(h.final_dim, want("final_dim"));
  EXPECT_EQ(h.conv_pos, want("conv_pos"));
  EXPECT_EQ(h.conv_pos_groups, want("conv_pos_groups"));
  EXPECT_EQ(h.conv_layers,
            parse_conv_feature_layers((*cfg)["conv_feature_layers"].get<std::string>()));
  EXPECT_EQ(h.config_source, "cfg.model");
  if (const json* x = param(p, {"normalize"})) {
    EXPECT_EQ(h.normalize, x->get<bool>());
  }
  EXPECT_TRUE(h.weights.count("final_proj.weight"));
  // The fp16 weights convert to float32 with the stored shapes.
  const Tensor& w0 = h.weights.at("feature_extractor.conv_layers.0.0.weight");
  EXPECT_EQ(w0.shape(), (Shape{h.conv_layers[0].channels, 1, h.conv_layers[0].kernel}));
}

void check_rmvpe(const test::Case& c, const std::string& file) {
  SCOPED_TRACE(c.name + "/" + file);
  Checkpoint ck = load_checkpoint(c.file(file).string());
  EXPECT_EQ(detect_kind(ck).name, "rmvpe") << detect_kind(ck).reason;
  RmvpeInfo m = read_rmvpe(ck);
  const json& p = c.manifest["parameters"];
  if (const json* a = param(p, {"E2E_args"})) {
    EXPECT_EQ(m.n_blocks, (*a)["n_blocks"].get<int64_t>());
    EXPECT_EQ(m.n_gru, (*a)["n_gru"].get<int64_t>());
    EXPECT_EQ(m.en_de_layers, (*a)["en_de_layers"].get<int64_t>());
    EXPECT_EQ(m.inter_layers, (*a)["inter_layers"].get<int64_t>());
    EXPECT_EQ(m.in_channels, (*a)["in_channels"].get<int64_t>());
    EXPECT_EQ(m.en_out_channels, (*a)["en_out_channels"].get<int64_t>());
  }
  if (p.contains("mel") && p["mel"].contains("n_mel_channels")) {
    EXPECT_EQ(m.n_mels, p["mel"]["n_mel_channels"].get<int64_t>());
  }
  EXPECT_EQ(m.n_classes, 360);
  EXPECT_FALSE(m.weights.empty());
}

TEST(ModelInfoGolden, EveryManifestModelLoads) {
  int checked = 0;
  for (const test::Case& c : test::all_cases()) {
    if (!c.manifest.contains("files")) continue;
    for (const auto& [role, f] : c.manifest["files"].items()) {
      if (!f.contains("file")) continue;
      const std::string file = f["file"].get<std::string>();
      if (role == "model") {
        check_voice(c, file);
      } else if (role == "hubert") {
        check_hubert(c, file);
      } else if (role == "rmvpe") {
        check_rmvpe(c, file);
      } else {
        continue;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no model files named by any manifest";
}

}  // namespace
}  // namespace rvc::formats
