// apps/settings.h: the voice-conversion settings shared by convert, stream and serve.
//
// Every command that runs an RVC voice registers the same keys (so the same flags, RVC_*
// variables and config-file keys) with add_voice_settings(), then turns them into the library's
// structs: voice_params() -> pipeline::ConvertParams, load_voice() -> VoiceModels through the
// ModelStore (missing files: rvc::Error naming the file and where to get it).
//
//   models-dir  model  index  hubert  rmvpe  pitch  f0-method  f0-file  index-rate  protect
//   rms-mix  filter-radius  resample-sr  speaker  threads  precision  seed  no-noise
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "rvc/core/settings.h"
#include "rvc/pipeline/pipeline.h"
#include "rvc/pipeline/voice_models.h"

namespace rvc::app {

struct VoiceOptions {
  std::string models_dir = "models";  // RVC_MODELS_DIR
  std::string model;                  // NAME in models-dir or a .pth path; "" = none
  std::string index;                  // "" = the voice's own index from the store, if any
  std::string hubert, rmvpe;          // "" = searched (assets/..., then models-dir)
  double pitch = 0.0;                 // f0_up_key, semitones
  std::string f0_method = "rmvpe";    // rmvpe | yin
  std::string f0_file;                // upstream f0_file rows (seconds,Hz)
  float index_rate = 0.75f;
  float protect = 0.33f;
  double rms_mix = 0.25;
  int filter_radius = 3;
  int resample_sr = 0;
  int64_t speaker = 0;
  int threads = 2;
  std::string precision = "f32";  // f32 | bf16 (matrix products; bf16 only on native CPUs)
  uint64_t seed = 0;
  bool no_noise = false;
};

// Registers the keys above on s, filling o.
void add_voice_settings(Settings& s, VoiceOptions* o);

// The pipeline parameters (f0 file read and validated). Throws rvc::Error.
pipeline::ConvertParams voice_params(const VoiceOptions& o);

// Resolves o.model through a ModelStore on o.models_dir and loads everything once (rmvpe only
// when the F0 method needs it and the voice has F0). Sets nn threads. Throws rvc::Error.
std::shared_ptr<const pipeline::VoiceModels> load_voice(const VoiceOptions& o);

}  // namespace rvc::app
