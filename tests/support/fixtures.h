// tests/support/fixtures.h: finding golden cases by their manifests.
//
// The fixtures directory is $RVC_FIXTURES, or ../shared/fixtures relative to the source root.
// Cases are discovered by scanning for */manifest.json; nothing depends on a case's name.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rvc::test {

struct Case {
  std::filesystem::path dir;
  std::string name;  // directory name, for messages only
  std::string kind;  // manifest "kind"
  nlohmann::json manifest;
  // Resolves a file named in the manifest ("model.pth", "../other/added.index").
  std::filesystem::path file(const std::string& rel) const { return dir / rel; }
};

std::filesystem::path fixtures_dir();
// All cases under fixtures_dir(), sorted by directory name. Throws if the directory is missing.
std::vector<Case> all_cases();
// Cases of one kind ("synthesizer", "hubert", ...).
std::vector<Case> cases_of_kind(const std::string& kind);
// Path of the built rvc-rt binary ($RVC_RT_BIN, set by CTest).
std::filesystem::path rvc_rt_bin();

// Runs a shell command, capturing stdout (and stderr when merge_stderr); returns exit status.
int run_command(const std::string& cmd, std::string* out, bool merge_stderr = false);

}  // namespace rvc::test
