// src/server/model_registry.h: voices loaded once and shared by every session that names them.
//
// Names resolve only inside the models directory (ModelStore::check_name: no '/', '\\', "..",
// leading '.', NUL, absolute paths). get() loads on first use; unload() drops the registry's
// reference (sessions holding the shared_ptr keep the voice until they end). Thread-safe: one
// mutex, held while a voice loads (loads are rare and serialised on purpose: two sessions asking
// for the same new voice load it once).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "rvc/pipeline/model_store.h"
#include "rvc/pipeline/voice_models.h"

namespace rvc::server {

class ModelRegistry {
 public:
  ModelRegistry(std::string models_dir, std::string hubert, std::string rmvpe);

  // The loaded voice, loading it when needed (f0_method decides whether rmvpe.pt is required).
  // Throws ProtocolError kBadModelName / kModelNotFound / kModelLoadFailed.
  std::shared_ptr<const pipeline::VoiceModels> get(const std::string& name,
                                                   const std::string& f0_method);
  // True when it was loaded. Throws kBadModelName / kModelNotFound.
  bool unload(const std::string& name);
  int loaded_count() const;
  // {"models":[...], "models_dir": ...} as docs/protocol.md GET /api/models.
  nlohmann::json list() const;

 private:
  void check(const std::string& name) const;
  pipeline::ModelStore store_;
  std::string hubert_, rmvpe_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const pipeline::VoiceModels>> loaded_;
};

}  // namespace rvc::server
