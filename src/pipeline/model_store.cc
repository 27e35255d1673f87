// Finding voices, indexes and the shared assets (upstream RVC's assets/ layout).
#include "rvc/pipeline/model_store.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <system_error>
#include <utility>

#include "rvc/core/error.h"
#include "rvc/core/log.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"

namespace rvc::pipeline {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows symlinks
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Sorted regular files of dir (none when dir is missing).
std::vector<std::string> file_names(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (is_file(it->path())) names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

const char* asset_file_name(Asset a) { return a == Asset::kHubert ? "hubert_base.pt" : "rmvpe.pt"; }

ModelStore::ModelStore(fs::path models_dir, std::vector<fs::path> asset_roots)
    : models_dir_(std::move(models_dir)), asset_roots_(std::move(asset_roots)) {}

fs::path ModelStore::default_models_dir() {
  const char* env = std::getenv("RVC_MODELS_DIR");
  return (env && *env) ? fs::path(env) : fs::path("models");
}

void ModelStore::check_name(const std::string& name) {
  if (name.empty()) fail("voice name: empty");
  if (name.find('\0') != std::string::npos) fail("voice name: contains a NUL byte");
  if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos) {
    fail("voice name '", name, "': must be a plain name without '/' or '\\' (give a path to a ",
         ".pth file instead)");
  }
  if (name.find("..") != std::string::npos || name.front() == '.') {
    fail("voice name '", name, "': must not contain '..' or start with '.'");
  }
  if (fs::path(name).is_absolute() || fs::path(name).has_root_name()) {
    fail("voice name '", name, "': must not be an absolute path");
  }
}

std::optional<fs::path> ModelStore::find_index(const fs::path& dir, const std::string& name) {
  if (is_file(dir / (name + ".index"))) return dir / (name + ".index");
  std::vector<std::string> loose;
  for (const std::string& f : file_names(dir)) {
    if (f.rfind("added_", 0) != 0 || !ends_with(f, ".index")) continue;
    // Upstream train_index names: added_IVF{n}_Flat_nprobe_{p}_{NAME}_{version}.index.
    if (ends_with(f, "_" + name + "_v1.index") || ends_with(f, "_" + name + "_v2.index")) {
      return dir / f;
    }
    if (f.find(name, 6) != std::string::npos) loose.push_back(f);
  }
  if (loose.empty()) return std::nullopt;
  if (loose.size() > 1) {
    log_warn("voice ", name, ": several indexes match in ", dir.string(), "; using ", loose[0]);
  }
  return dir / loose[0];
}

ResolvedVoice ModelStore::resolve_name(const std::string& name) const {
  check_name(name);
  ResolvedVoice r;
  r.name = name;
  r.model = models_dir_ / (name + ".pth");
  if (!is_file(r.model)) {
    std::ostringstream avail;
    for (const std::string& f : file_names(models_dir_)) {
      if (ends_with(f, ".pth"))
        avail << (avail.tellp() > 0 ? ", " : "") << f.substr(0, f.size() - 4);
    }
    fail("voice '", name, "': ", r.model.string(), " not found (voices in ", models_dir_.string(),
         ": ", avail.tellp() > 0 ? avail.str() : std::string("none"),
         "; set RVC_MODELS_DIR or give a path to the .pth)");
  }
  if (auto idx = find_index(models_dir_, name)) r.index = *idx;
  return r;
}

ResolvedVoice ModelStore::resolve(const std::string& name_or_path) const {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       name_or_path.find('\\') != std::string::npos ||
                       ends_with(name_or_path, ".pth");
  if (!is_path) return resolve_name(name_or_path);
  ResolvedVoice r;
  r.model = fs::path(name_or_path);
  if (!is_file(r.model)) fail(name_or_path, ": voice model file not found");
  r.name = r.model.stem().string();
  const fs::path dir = r.model.has_parent_path() ? r.model.parent_path() : fs::path(".");
  if (auto idx = find_index(dir, r.name)) r.index = *idx;
  return r;
}

std::vector<fs::path> ModelStore::asset_candidates(Asset a) const {
  const std::string file = asset_file_name(a);
  const std::string sub = a == Asset::kHubert ? "hubert" : "rmvpe";
  std::vector<fs::path> c;
  for (const fs::path& root : asset_roots_) {
    c.push_back(root / sub / file);
    c.push_back(root / file);
  }
  c.push_back(models_dir_ / file);
  return c;
}

fs::path ModelStore::find_asset(Asset a, const std::string& explicit_path) const {
  const std::string file = asset_file_name(a);
  const char* hint = "; download it from https://huggingface.co/lj1995/VoiceConversionWebUI (file ";
  if (!explicit_path.empty()) {
    if (!is_file(explicit_path)) fail(explicit_path, ": ", file, " not found", hint, file, ")");
    return explicit_path;
  }
  std::ostringstream looked;
  for (const fs::path& p : asset_candidates(a)) {
    if (is_file(p)) return p;
    looked << (looked.tellp() > 0 ? ", " : "") << p.string();
  }
  fail(file, " not found (looked in ", looked.str(), ")", hint, file, ") and put it in assets/",
       a == Asset::kHubert ? "hubert" : "rmvpe", "/ or ", models_dir_.string(), "/");
}

VoiceModelPaths ModelStore::paths_for(const std::string& voice, const Overrides& o) const {
  const ResolvedVoice r = resolve(voice);
  VoiceModelPaths p;
  p.voice = r.model.string();
  if (o.use_index) {
    if (!o.index.empty() && !is_file(o.index)) fail(o.index, ": index file not found");
    p.index = !o.index.empty() ? o.index : r.index.string();
  }
  p.hubert = find_asset(Asset::kHubert, o.hubert).string();
  if (o.need_rmvpe || !o.rmvpe.empty()) p.rmvpe = find_asset(Asset::kRmvpe, o.rmvpe).string();
  return p;
}

std::vector<VoiceEntry> ModelStore::list() const {
  std::vector<VoiceEntry> out;
  for (const std::string& f : file_names(models_dir_)) {
    if (!ends_with(f, ".pth") || f.size() == 4) continue;
    VoiceEntry e;
    e.name = f.substr(0, f.size() - 4);
    e.model = models_dir_ / f;
    if (auto idx = find_index(models_dir_, e.name)) e.index = *idx;
    try {
      const formats::Checkpoint ck = formats::load_checkpoint(e.model.string());
      const formats::VoiceModelInfo info = formats::read_voice_model(ck, false);
      e.version = info.version;
      e.f0 = info.has_f0;
      e.sample_rate_hz = info.sample_rate_hz;
      e.speakers = info.speakers;
    } catch (const Error& err) {
      e.error = err.what();
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace rvc::pipeline
