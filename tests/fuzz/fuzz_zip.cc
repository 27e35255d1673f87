// Fuzzes the zip reader: open, list, read every entry.
#include <cstddef>
#include <cstdint>

#include "rvc/core/error.h"
#include "rvc/formats/zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto z = rvc::formats::ZipArchive::open(rvc::formats::memory_source(data, size));
    for (const auto& e : z.entries()) {
      try {
        (void)z.read(e);
      } catch (const rvc::Error&) {
      }
    }
  } catch (const rvc::Error&) {
  }
  return 0;
}
