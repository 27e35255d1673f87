// rvc/server/framing.h: the TCP framing of docs/protocol.md and HTTP request-target helpers, as
// pure code (no sockets) for unit tests and fuzzing.
//
// TCP frame: uint32 little-endian payload length L, uint8 type (0 = control JSON, 1 = audio),
// then L payload bytes. FrameDecoder takes bytes in whatever pieces the socket delivers and
// yields whole frames; it checks the header before buffering any payload, so a header claiming
// 4 GiB fails at once (kFrameTooLarge) instead of allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rvc::server {

enum class FrameType : uint8_t { kControl = 0, kAudio = 1 };
inline constexpr size_t kFrameHeaderBytes = 5;

// Header + payload, ready to write.
std::string encode_frame(FrameType type, std::string_view payload);

class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_payload) : max_payload_(max_payload) {}

  // Consumes bytes from data[0..n) up to the end of the first complete frame (or all of them
  // when none completes) and returns how many were consumed; when a frame completed, next()
  // holds it. Throws ProtocolError kFrameTooLarge / kBadFrame from the header alone.
  size_t feed(const uint8_t* data, size_t n);
  // True when a complete frame is ready; take_payload() hands it over and resets for the next.
  bool ready() const { return ready_; }
  FrameType type() const { return type_; }
  std::string take_payload();
  // Bytes of an incomplete frame buffered (header included): > 0 means "mid-frame".
  size_t partial_bytes() const { return ready_ ? 0 : header_len_ + payload_.size(); }

 private:
  size_t max_payload_;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_len_ = 0;
  size_t expected_ = 0;
  FrameType type_ = FrameType::kControl;
  std::string payload_;
  bool ready_ = false;
};

// An HTTP request target split into a percent-decoded path and query parameters. Returns nullopt
// for targets that are not origin-form ("/..."), contain bad escapes or decode to NUL.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
std::optional<Target> parse_target(std::string_view target);

// "Bearer X" -> X ("" when the header is not a bearer credential).
std::string bearer_token(std::string_view authorization);

// Maps a decoded URL path onto a file under root: "/" -> index.html. nullopt for anything that
// could leave root or reveal hidden files: "..", segments starting with '.', backslashes, empty
// segments are collapsed. Does not touch the file system.
std::optional<std::filesystem::path> static_file_path(const std::filesystem::path& root,
                                                      std::string_view path);
// Content-Type by extension (text/html, application/javascript, ...; else
// application/octet-stream).
const char* mime_type(const std::filesystem::path& p);

// "/api/models/NAME/load" -> {NAME, "load"}; nullopt for any other shape.
struct ModelRoute {
  std::string name, action;
};
std::optional<ModelRoute> match_model_route(std::string_view path);

}  // namespace rvc::server
