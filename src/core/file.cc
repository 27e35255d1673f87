#include "rvc/core/file.h"

#include <fstream>

#include "rvc/core/error.h"

namespace rvc {

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, ": cannot open ", what);
  const std::streamoff size = in.tellg();
  if (size < 0) fail(path, ": cannot determine file size");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    fail(path, ": read error");
  }
  return bytes;
}

}  // namespace rvc
