// tests/support/cli.h: helpers for tests that run the rvc-rt binary through the shell.
//
// Not thread-safe only in the sense that the filesystem is shared; all functions are pure or touch
// only the paths they are given.
#pragma once

#include <filesystem>
#include <string>

namespace rvc::test {

// The path in single quotes, for splicing into a /bin/sh command line (paths with a single quote
// are not supported; test paths never contain one).
std::string q(const std::filesystem::path& p);

// Creates an empty directory <temp>/<prefix>_<pid>[_<current gtest test name>], removing whatever
// was there first, and returns its path. The caller removes it (TearDown).
std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace rvc::test
