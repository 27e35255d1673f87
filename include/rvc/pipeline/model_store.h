// rvc/pipeline/model_store.h: finding voices, their indexes and the shared assets on disk.
//
// Layout (upstream RVC's, plus a flat models directory):
//   <models>/NAME.pth                      a voice; <models> is $RVC_MODELS_DIR or ./models
//   <models>/NAME.index                    its retrieval index, or upstream's training name
//   <models>/added_*NAME*.index            e.g. added_IVF256_Flat_nprobe_1_NAME_v2.index
//   hubert_base.pt, rmvpe.pt               shared assets, searched in assets/hubert/,
//                                          assets/rmvpe/, assets/ (each root in asset_roots) and
//                                          then <models>/
//
// A voice is named by NAME (resolve_name: never a path, so "../x", "a/b", "/abs" and names with
// NUL or backslash are refused) or given as an explicit file (resolve: anything with a '/' or a
// .pth suffix is a path). The index of an explicit NAME.pth is looked up next to it with the same
// rules. Missing files throw rvc::Error naming the file, where it was looked for and, for the
// assets, where users download them.
//
// A ModelStore is a plain value (paths only); methods read the file system and are safe to call
// from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "rvc/pipeline/voice_models.h"

namespace rvc::pipeline {

enum class Asset { kHubert, kRmvpe };
// "hubert_base.pt" / "rmvpe.pt"
const char* asset_file_name(Asset a);

struct VoiceEntry {
  std::string name;             // NAME of NAME.pth
  std::filesystem::path model;  // the .pth
  std::filesystem::path index;  // empty when none was found
  std::string version;          // "v1" | "v2" ("" when unreadable)
  bool f0 = false;
  int64_t sample_rate_hz = 0;
  int64_t speakers = 0;
  std::string error;  // non-empty when the .pth could not be read
  bool has_index() const { return !index.empty(); }
};

struct ResolvedVoice {
  std::string name;
  std::filesystem::path model;
  std::filesystem::path index;  // empty when none
};

class ModelStore {
 public:
  // models_dir: where NAME.pth files live. asset_roots: directories holding upstream's assets/
  // layout (default: {"assets"}, relative to the working directory).
  explicit ModelStore(std::filesystem::path models_dir,
                      std::vector<std::filesystem::path> asset_roots = {"assets"});
  // $RVC_MODELS_DIR when set and non-empty, else "models".
  static std::filesystem::path default_models_dir();
  static ModelStore from_environment() { return ModelStore(default_models_dir()); }

  const std::filesystem::path& models_dir() const { return models_dir_; }

  // Throws unless name is a plain voice name (no path separators, "..", absolute paths, NUL,
  // empty, or a leading '.').
  static void check_name(const std::string& name);
  // NAME -> <models>/NAME.pth (must exist) and its index.
  ResolvedVoice resolve_name(const std::string& name) const;
  // A name (as resolve_name) or an explicit path to a .pth file.
  ResolvedVoice resolve(const std::string& name_or_path) const;
  // The index for voice NAME in dir: NAME.index, else added_*_NAME_v1/v2.index, else the
  // first (sorted) added_*NAME*.index. nullopt when none.
  static std::optional<std::filesystem::path> find_index(const std::filesystem::path& dir,
                                                         const std::string& name);

  // explicit_path non-empty: it must exist. Else the first existing candidate (see
  // asset_candidates). Throws naming the file, every place looked and the download location.
  std::filesystem::path find_asset(Asset a, const std::string& explicit_path = "") const;
  std::vector<std::filesystem::path> asset_candidates(Asset a) const;

  // Everything VoiceModels::load needs for a voice (name or path, as resolve): its .pth, its
  // index (or `index` when non-empty; none when use_index is false), hubert_base.pt and, when
  // need_rmvpe, rmvpe.pt (explicit paths when given, else find_asset).
  struct Overrides {
    std::string hubert, rmvpe, index;
    bool use_index = true;
    bool need_rmvpe = true;
  };
  VoiceModelPaths paths_for(const std::string& voice, const Overrides& o) const;
  VoiceModelPaths paths_for(const std::string& voice) const { return paths_for(voice, {}); }

  // Every NAME.pth in the models directory, sorted by name, with its info read from the file
  // (weights are not converted). Unreadable files are listed with `error` set. A missing models
  // directory gives an empty list.
  std::vector<VoiceEntry> list() const;

 private:
  std::filesystem::path models_dir_;
  std::vector<std::filesystem::path> asset_roots_;
};

}  // namespace rvc::pipeline
