// tests/support/voice_fixture.h: the voice-model files a pipeline fixture case names.
#pragma once

#include "rvc/pipeline/voice_models.h"
#include "support/fixtures.h"

namespace rvc::test {

// Paths of the case's model and HuBERT, and its index when it has one (from files{} of its
// manifest). RMVPE is left to the caller: pipeline cases take F0 from their own curve.
inline pipeline::VoiceModelPaths voice_paths(const Case& c) {
  const auto& files = c.manifest.at("files");
  pipeline::VoiceModelPaths paths;
  paths.voice = c.file(files.at("model").at("file")).string();
  paths.hubert = c.file(files.at("hubert").at("file")).string();
  if (files.contains("index")) paths.index = c.file(files.at("index").at("file")).string();
  return paths;
}

}  // namespace rvc::test
