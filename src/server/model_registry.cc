#include "model_registry.h"

#include <filesystem>

#include "rvc/core/error.h"
#include "rvc/server/protocol.h"

namespace rvc::server {

ModelRegistry::ModelRegistry(std::string models_dir, std::string hubert, std::string rmvpe)
    : store_(std::move(models_dir)), hubert_(std::move(hubert)), rmvpe_(std::move(rmvpe)) {}

void ModelRegistry::check(const std::string& name) const {
  try {
    pipeline::ModelStore::check_name(name);
  } catch (const Error&) {
    throw ProtocolError(Code::kBadModelName,
                        "model '" + name.substr(0, 64) +  // to_wire() repairs bad UTF-8
                            "': not a voice name (a NAME in the models directory, no path)");
  }
  if (!std::filesystem::is_regular_file(store_.models_dir() / (name + ".pth"))) {
    throw ProtocolError(Code::kModelNotFound, "model '" + name + "': no " + name + ".pth in " +
                                                  store_.models_dir().string());
  }
}

std::shared_ptr<const pipeline::VoiceModels> ModelRegistry::get(const std::string& name,
                                                                const std::string& f0_method) {
  check(name);
  std::lock_guard<std::mutex> lk(mu_);
  const auto it = loaded_.find(name);
  if (it != loaded_.end() &&
      (f0_method != "rmvpe" || it->second->has_rmvpe() || !it->second->info().has_f0)) {
    return it->second;
  }
  try {
    pipeline::ModelStore::Overrides ov;
    ov.hubert = hubert_;
    ov.rmvpe = rmvpe_;
    // rmvpe.pt only when the voice has F0 and the session asks for rmvpe; a voice without F0
    // (or a yin session) must not fail because the pitch model is missing.
    ov.need_rmvpe = false;
    if (f0_method == "rmvpe") {
      try {
        store_.find_asset(pipeline::Asset::kRmvpe, rmvpe_);
        ov.need_rmvpe = true;
      } catch (const Error&) {
        ov.need_rmvpe = false;  // VoiceModels/Stream will name the missing file if F0 needs it
      }
    }
    auto models = pipeline::VoiceModels::load(store_.paths_for(name, ov));
    loaded_[name] = models;
    return models;
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {
    throw ProtocolError(Code::kModelLoadFailed, "model '" + name + "': " + e.what());
  }
}

bool ModelRegistry::unload(const std::string& name) {
  check(name);
  std::lock_guard<std::mutex> lk(mu_);
  return loaded_.erase(name) > 0;
}

int ModelRegistry::loaded_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return static_cast<int>(loaded_.size());
}

nlohmann::json ModelRegistry::list() const {
  nlohmann::json models = nlohmann::json::array();
  std::vector<pipeline::VoiceEntry> entries;
  try {
    entries = store_.list();
  } catch (const std::exception&) {
    // An unreadable models directory lists as empty; the error shows when a voice is used.
  }
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& e : entries) {
    nlohmann::json m = {{"name", e.name},
                        {"loaded", loaded_.count(e.name) > 0},
                        {"version", e.version},
                        {"f0", e.f0},
                        {"sample_rate", e.sample_rate_hz},
                        {"speakers", e.speakers},
                        {"index", e.has_index()}};
    if (!e.error.empty()) m["error"] = e.error;
    models.push_back(std::move(m));
  }
  return {{"models", models}, {"models_dir", store_.models_dir().string()}};
}

}  // namespace rvc::server
