// Fuzzes the control-message parser shared by WebSocket text messages and TCP type-0 frames, and
// the audio payload decoder: any bytes give a ControlMessage or a ProtocolError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rvc/server/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rvc::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const ControlMessage m = parse_control(text);
    rvc::pipeline::StreamParams p;
    m.params.apply_to(&p);
    m.config.params.apply_to(&p);
    p.validate();  // what the parser accepted is in the documented ranges
    (void)to_wire(params_json(p));
  } catch (const ProtocolError& e) {
    (void)to_wire(error_json(e.code(), e.what(), try_extract_id(text)));
  }
  if (size > 0) {
    std::vector<float> out;
    const AudioFormat f = (data[0] & 1) ? AudioFormat::kF32 : AudioFormat::kS16;
    try {
      decode_audio(data + 1, size - 1, f, (data[0] & 2) ? 2 : 1, &out);
      std::string bytes;
      encode_audio(out.data(), out.size(), f, &bytes);
    } catch (const ProtocolError&) {
    }
  }
  return 0;
}
