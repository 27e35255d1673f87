// tests/support/cli.cc: see cli.h.
#include "support/cli.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace rvc::test {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

fs::path make_temp_dir(const std::string& prefix) {
  std::string name = prefix + "_" + std::to_string(::getpid());
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += std::string("_") + info->name();
  }
  const fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace rvc::test
