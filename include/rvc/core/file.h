// rvc/core/file.h: small file helpers shared by the readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rvc {

// The whole file. Throws rvc::Error "<path>: cannot open <what>" / "read error".
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what = "file");

}  // namespace rvc
