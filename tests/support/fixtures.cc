#include "support/fixtures.h"

#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace rvc::test {
namespace fs = std::filesystem;

fs::path fixtures_dir() {
  if (const char* env = std::getenv("RVC_FIXTURES"); env && *env) return fs::path(env);
  return fs::path(RVC_SOURCE_DIR) / ".." / "shared" / "fixtures";
}

std::vector<Case> all_cases() {
  const fs::path root = fixtures_dir();
  if (!fs::is_directory(root)) {
    throw std::runtime_error("fixtures directory not found: " + root.string() +
                             " (set RVC_FIXTURES)");
  }
  std::vector<Case> cases;
  for (const auto& entry : fs::directory_iterator(root)) {
    const fs::path manifest = entry.path() / "manifest.json";
    if (!entry.is_directory() || !fs::exists(manifest)) continue;
    std::ifstream in(manifest);
    Case c;
    c.dir = entry.path();
    c.name = entry.path().filename().string();
    c.manifest = nlohmann::json::parse(in);
    c.kind = c.manifest.value("kind", "");
    cases.push_back(std::move(c));
  }
  std::sort(cases.begin(), cases.end(),
            [](const Case& a, const Case& b) { return a.name < b.name; });
  return cases;
}

std::vector<Case> cases_of_kind(const std::string& kind) {
  std::vector<Case> out;
  for (auto& c : all_cases()) {
    if (c.kind == kind) out.push_back(std::move(c));
  }
  return out;
}

fs::path rvc_rt_bin() {
  if (const char* env = std::getenv("RVC_RT_BIN"); env && *env) return fs::path(env);
  return fs::path(RVC_BINARY_DIR) / "rvc-rt";
}

int run_command(const std::string& cmd, std::string* out, bool merge_stderr) {
  const std::string full = merge_stderr ? cmd + " 2>&1" : cmd;
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    if (out) out->append(buf.data(), n);
  }
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rvc::test
