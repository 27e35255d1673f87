// Transparent huge pages through glibc's malloc tunable; see rvc/core/hugepages.h.
#include "rvc/core/hugepages.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

namespace rvc {
namespace {

constexpr const char* kTunable = "glibc.malloc.hugetlb";

bool disabled_by_user() {
  const char* v = std::getenv("RVC_HUGEPAGES");
  if (!v) return false;
  const std::string s(v);
  return s == "0" || s == "off" || s == "false" || s == "no";
}

// The kernel's THP mode: "always", "madvise", "never" or "" (no THP support).
std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  const auto a = line.find('['), b = line.find(']');
  if (a == std::string::npos || b == std::string::npos || b < a) return "";
  return line.substr(a + 1, b - a - 1);
}

bool glibc_has_tunable() {
#if defined(__GLIBC__)
  int major = 0, minor = 0;
  if (std::sscanf(gnu_get_libc_version(), "%d.%d", &major, &minor) != 2) return false;
  return major > 2 || (major == 2 && minor >= 35);
#else
  return false;
#endif
}

bool tunable_set() { return !hugetlb_tunable_value(std::getenv("GLIBC_TUNABLES")).empty(); }

}  // namespace

std::string add_hugetlb_tunable(const char* old) {
  std::string value = std::string(kTunable) + "=1";
  if (old && *old) value = std::string(old) + ":" + value;
  return value;
}

std::string hugetlb_tunable_value(const char* tunables) {
  if (!tunables) return "";
  // Colon-separated name=value pairs; the last setting of a name wins.
  const std::string s(tunables), key = std::string(kTunable) + "=";
  std::string found;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(':', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    if (item.compare(0, key.size(), key) == 0) found = item.substr(key.size());
    i = j + 1;
  }
  return found;
}

void use_huge_pages(char** argv) {
  if (disabled_by_user() || tunable_set() || !glibc_has_tunable() || thp_mode() != "madvise") {
    return;
  }
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  const std::string value = add_hugetlb_tunable(std::getenv("GLIBC_TUNABLES"));
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv(exe, argv);
  // Only reached when exec failed: go on with 4 KiB pages (the variable stays set, so a child
  // process of ours would get huge pages; that is harmless).
}

std::string huge_pages_status() {
  const std::string mode = thp_mode();
  if (mode.empty()) return "huge pages: off (the kernel has no transparent huge pages)";
  if (mode == "never") return "huge pages: off (the kernel's THP mode is never)";
  if (mode == "always") return "huge pages: on (the kernel's THP mode is always)";
  const std::string v = hugetlb_tunable_value(std::getenv("GLIBC_TUNABLES"));
  if (!glibc_has_tunable()) return "huge pages: off (THP " + mode + " needs glibc 2.35 or later)";
  if (v == "0") return "huge pages: off (GLIBC_TUNABLES sets glibc.malloc.hugetlb=0)";
  if (!v.empty()) return "huge pages: on (glibc.malloc.hugetlb=" + v + ", THP " + mode + ")";
  if (disabled_by_user()) {
    return "huge pages: off (RVC_HUGEPAGES=" + std::string(std::getenv("RVC_HUGEPAGES")) + ")";
  }
  return "huge pages: off (THP " + mode + ", glibc.malloc.hugetlb not set)";
}

}  // namespace rvc
