// rvc-rt models: what the models directory holds.
//
//   rvc-rt models [--models-dir DIR] [--hubert FILE] [--rmvpe FILE] [--json]
//
// One line per voice (NAME.pth in the models dir): version, F0, sample rate, speakers and its
// index file (or none); then where hubert_base.pt and rmvpe.pt were found, or that they were not
// (with where they were looked for). A voice that cannot be read is listed with its error.
// --json prints {"models_dir", "voices": [...], "assets": {"hubert": {...}, "rmvpe": {...}}}.
// Settings (models-dir, hubert, rmvpe) come from flags, RVC_* variables or the config file like
// convert's. Exit status 0, or 2 when a setting is malformed.
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/pipeline/model_store.h"

namespace rvc::app {
namespace {

using nlohmann::json;

struct AssetStatus {
  bool found = false;
  std::string path;   // where it was found
  std::string error;  // why not (names every place looked)
};

AssetStatus asset_status(const pipeline::ModelStore& store, pipeline::Asset a,
                         const std::string& explicit_path) {
  AssetStatus s;
  try {
    s.path = store.find_asset(a, explicit_path).string();
    s.found = true;
  } catch (const Error& e) {
    s.error = e.what();
  }
  return s;
}

int run_models(const std::vector<std::string>& args) {
  std::string models_dir = "models", hubert, rmvpe;
  bool as_json = false;
  Settings s("models", "");
  s.add("models-dir", "DIR", "where voices (NAME.pth, NAME.index) live (default models)",
        &models_dir);
  s.add("hubert", "FILE", "hubert_base.pt to check instead of searching", &hubert);
  s.add("rmvpe", "FILE", "rmvpe.pt to check instead of searching", &rmvpe);
  s.add_flag("json", "print JSON instead of text", &as_json).cli_only();
  if (!s.load(args)) {
    std::fputs(s.usage().c_str(), stdout);
    return 0;
  }
  if (!s.positional().empty()) fail("models: unexpected argument '", s.positional()[0], "'");
  const pipeline::ModelStore store(models_dir.empty() ? "models" : models_dir);
  const std::vector<pipeline::VoiceEntry> voices = store.list();
  const AssetStatus hs = asset_status(store, pipeline::Asset::kHubert, hubert);
  const AssetStatus rs = asset_status(store, pipeline::Asset::kRmvpe, rmvpe);

  if (as_json) {
    json j;
    j["models_dir"] = store.models_dir().string();
    j["voices"] = json::array();
    for (const auto& v : voices) {
      json e = {{"name", v.name}, {"model", v.model.string()}};
      if (!v.error.empty()) {
        e["error"] = v.error;
      } else {
        e["version"] = v.version;
        e["f0"] = v.f0;
        e["sample_rate_hz"] = v.sample_rate_hz;
        e["speakers"] = v.speakers;
      }
      e["index"] = v.has_index() ? json(v.index.string()) : json(nullptr);
      j["voices"].push_back(e);
    }
    auto asset = [](const AssetStatus& a) {
      json e = {{"found", a.found}};
      if (a.found)
        e["path"] = a.path;
      else
        e["error"] = a.error;
      return e;
    };
    j["assets"] = {{"hubert", asset(hs)}, {"rmvpe", asset(rs)}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::printf("voices in %s:\n", store.models_dir().string().c_str());
  if (voices.empty()) std::printf("  (none: put NAME.pth files there or set RVC_MODELS_DIR)\n");
  for (const auto& v : voices) {
    if (!v.error.empty()) {
      std::printf("  %-20s unreadable: %s\n", v.name.c_str(), v.error.c_str());
      continue;
    }
    std::printf("  %-20s %s  %-5s  %6lld Hz  %lld speaker%s  index: %s\n", v.name.c_str(),
                v.version.c_str(), v.f0 ? "f0" : "no-f0", static_cast<long long>(v.sample_rate_hz),
                static_cast<long long>(v.speakers), v.speakers == 1 ? "" : "s",
                v.has_index() ? v.index.string().c_str() : "none");
  }
  std::printf("assets:\n");
  std::printf("  hubert_base.pt  %s\n",
              hs.found ? hs.path.c_str() : ("missing: " + hs.error).c_str());
  std::printf("  rmvpe.pt        %s\n",
              rs.found ? rs.path.c_str() : ("missing: " + rs.error).c_str());
  return 0;
}

const RegisterCommand kRegister("models", "list the voices in the models dir and the shared assets",
                                run_models);

}  // namespace
}  // namespace rvc::app
