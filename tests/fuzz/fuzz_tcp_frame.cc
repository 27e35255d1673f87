// Fuzzes the TCP frame decoder: the input is cut into pieces whose sizes come from the input
// itself (so partial reads at every boundary are explored) and fed until an error or the end.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "rvc/server/framing.h"
#include "rvc/server/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rvc::server;
  if (size < 1) return 0;
  const size_t piece = 1 + data[0] % 17;
  FrameDecoder d(4096);
  size_t total = 0;
  try {
    for (size_t i = 1; i < size; i += piece) {
      const size_t n = std::min(piece, size - i);
      size_t pos = 0;
      while (pos < n) {
        const size_t used = d.feed(data + i + pos, n - pos);
        pos += used;
        if (d.ready()) {
          const std::string p = d.take_payload();
          if (p.size() > 4096) std::abort();
          total += p.size();
        } else if (used == 0) {
          std::abort();  // no progress without a ready frame would loop forever
        }
      }
    }
  } catch (const ProtocolError&) {
  }
  if (total > size) std::abort();
  return 0;
}
