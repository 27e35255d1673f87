// rvc-rt info --json on every file a fixture manifest names: kind and values must match the
// manifest's `parameters` (whatever case set RVC_FIXTURES points at). Bad files: exit 2 and one
// "rvc-rt: error: <path>: ..." line each.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"

namespace rvc::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json info_json(const fs::path& file, int* status) {
  std::string out;
  *status = run_command(rvc_rt_bin().string() + " info --json '" + file.string() + "'", &out);
  return json::parse(out);
}

const json* param(const json& p, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (p.contains(n) && !p[n].is_null()) return &p[n];
  }
  return nullptr;
}

void check_voice(const json& got, const json& p) {
  const json* cfg = param(p, {"config", "synth_config"});
  ASSERT_NE(cfg, nullptr) << "manifest names a model but has no config list";
  EXPECT_EQ(got["config"], *cfg);
  EXPECT_EQ(got["sample_rate"], cfg->back());
  EXPECT_EQ(got["speakers"], (*cfg)[cfg->size() - 3]);
  if (const json* v = param(p, {"version"})) {
    EXPECT_EQ(got["version"], *v);
    EXPECT_EQ(got["embedding_dim"], *v == "v1" ? 256 : 768);
  }
  if (const json* f0 = param(p, {"f0", "if_f0"})) {
    EXPECT_EQ(got["f0"], f0->get<int>() != 0);
  }
  if (const json* sr = param(p, {"sr"})) {
    EXPECT_EQ(got["sr"], *sr);
  }
  if (const json* info = param(p, {"info"})) {
    EXPECT_EQ(got["info"], *info);
  }
}

void check_hubert(const json& got, const json& p) {
  const json* cfg = param(p, {"model_cfg", "hubert_cfg"});
  ASSERT_NE(cfg, nullptr) << "manifest names a hubert but has no model config";
  EXPECT_EQ(got["layers"], (*cfg)["encoder_layers"]);
  EXPECT_EQ(got["embedding_dim"], (*cfg)["encoder_embed_dim"]);
  EXPECT_EQ(got["final_proj_dim"], (*cfg)["final_dim"]);
  EXPECT_EQ(got["heads"], (*cfg)["encoder_attention_heads"]);
  EXPECT_EQ(got["ffn_dim"], (*cfg)["encoder_ffn_embed_dim"]);
  EXPECT_EQ(got["conv_pos"], (*cfg)["conv_pos"]);
  EXPECT_EQ(got["conv_pos_groups"], (*cfg)["conv_pos_groups"]);
}

void check_rmvpe(const json& got, const json& p) {
  const json* a = param(p, {"E2E_args"});
  ASSERT_NE(a, nullptr) << "manifest names an rmvpe but has no E2E_args";
  for (const char* k :
       {"n_blocks", "n_gru", "en_de_layers", "inter_layers", "in_channels", "en_out_channels"}) {
    EXPECT_EQ(got[k], (*a)[k]) << k;
  }
}

void check_index(const json& got, const json& p, const fs::path& file) {
  // The index may belong to another case (a "../" path): its own manifest has the numbers.
  json params = p;
  const fs::path owner = file.parent_path() / "manifest.json";
  if (fs::exists(owner)) params = json::parse(std::ifstream(owner))["parameters"];
  for (const char* k : {"dim", "ntotal", "nlist", "nprobe"}) {
    if (params.contains(k)) {
      EXPECT_EQ(got[k], params[k]) << k;
    }
  }
}

TEST(InfoCli, EveryManifestFileIsDescribedCorrectly) {
  int checked = 0;
  for (const Case& c : all_cases()) {
    if (!c.manifest.contains("files")) continue;
    const json& p = c.manifest.value("parameters", json::object());
    for (const auto& [role, f] : c.manifest["files"].items()) {
      const fs::path file = c.file(f["file"].get<std::string>());
      SCOPED_TRACE(c.name + " " + role + " " + file.string());
      int status = -1;
      const json got = info_json(file, &status);
      ASSERT_EQ(status, 0);
      EXPECT_EQ(got["path"], file.string());
      const std::string kind = got["kind"];
      if (kind == "rvc-voice") {
        check_voice(got, p);
      } else if (kind == "hubert") {
        check_hubert(got, p);
      } else if (kind == "rmvpe") {
        check_rmvpe(got, p);
      } else if (kind == "faiss-index") {
        check_index(got, p, file);
      } else if (kind == "audio") {
        EXPECT_GE(got["channels"].get<int>(), 1);
        EXPECT_GT(got["sample_rate"].get<int>(), 0);
        if (const json* secs = param(p, {"input_seconds"})) {
          EXPECT_NEAR(got["duration_s"].get<double>(), secs->get<double>(), 1e-6);
        }
      } else {
        ADD_FAILURE() << "unexpected kind " << kind;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no files named by any manifest under " << fixtures_dir();
}

TEST(InfoCli, BadFilesGiveOneLineErrorsAndExit2) {
  const fs::path dir = fs::temp_directory_path() / "rvc_info_cli_test";
  fs::create_directories(dir);
  const fs::path empty = dir / "empty.pth", text = dir / "notes.txt", zip = dir / "trunc.pth";
  std::ofstream(empty).close();
  std::ofstream(text) << "just some text\n";
  std::ofstream(zip, std::ios::binary) << std::string("PK\x03\x04", 4) << std::string(40, 'x');
  const fs::path missing = dir / "missing.index";
  for (const fs::path& bad : {empty, text, zip, missing, dir}) {
    std::string out;
    const int status = run_command(
        rvc_rt_bin().string() + " info --json '" + bad.string() + "' 2>&1 >/dev/null", &out);
    EXPECT_EQ(status, 2) << bad;
    EXPECT_EQ(out.rfind("rvc-rt: error: " + bad.string() + ": ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  fs::remove_all(dir);
}

TEST(InfoCli, GoodFilesStillPrintWhenOneFails) {
  const auto cases = all_cases();
  ASSERT_FALSE(cases.empty());
  fs::path good;
  for (const Case& c : cases) {
    if (c.manifest.contains("files")) {
      good = c.file(c.manifest["files"].begin().value()["file"].get<std::string>());
      break;
    }
  }
  ASSERT_FALSE(good.empty());
  std::string out;
  const int status = run_command(
      rvc_rt_bin().string() + " info --json /nonexistent/file '" + good.string() + "'", &out);
  EXPECT_EQ(status, 2);
  EXPECT_EQ(json::parse(out)["path"], good.string());
}

}  // namespace
}  // namespace rvc::test
