// rvc/server/protocol.h: the session protocol of `rvc-rt serve` as pure functions (no sockets),
// shared by the WebSocket and TCP transports and unit-tested and fuzzed on their own.
// docs/protocol.md is the specification; the error codes here are its table.
//
// Everything here is a value type or a free function; nothing blocks, nothing is shared between
// threads. Parsers of untrusted bytes throw ProtocolError (an rvc::Error with a code) and never
// allocate more than the input's size suggests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rvc/core/error.h"
#include "rvc/pipeline/stream.h"

namespace rvc::server {

// Error codes of docs/protocol.md ("bad_json", ...).
enum class Code {
  kBadJson,
  kUnknownType,
  kBadField,
  kNotConfigured,
  kAlreadyConfigured,
  kBadAudioLength,
  kBadModelName,
  kModelNotFound,
  kModelLoadFailed,
  kUnauthorized,
  kServerBusy,
  kFrameTooLarge,
  kBadFrame,
  kRateLimited,
  kIdleTimeout,
  kSlowReader,
  kShuttingDown,
  kInternal,
};
inline constexpr int kCodeCount = static_cast<int>(Code::kInternal) + 1;

const char* code_name(Code c);
// Whether the server closes the connection after this error.
bool code_fatal(Code c);
// The WebSocket close code for a fatal error (1008 policy, 1009 too big, ...); 1000 otherwise.
int code_ws_close(Code c);
// The HTTP status when the error answers a request (400, 401, 404, 500, 503).
int code_http_status(Code c);

class ProtocolError : public Error {
 public:
  ProtocolError(Code code, const std::string& message) : Error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

// Serialises a reply. Messages may quote client bytes that are not UTF-8: those are replaced
// (U+FFFD) instead of throwing, so a hostile name can never take the server down.
std::string to_wire(const nlohmann::json& j);

// {"type":"error","code":...,"message":...,"fatal":...} plus "id" when id is not null.
nlohmann::json error_json(Code code, const std::string& message,
                          const nlohmann::json& id = nullptr);

enum class AudioFormat { kS16, kF32 };
const char* audio_format_name(AudioFormat f);
inline int bytes_per_sample(AudioFormat f) { return f == AudioFormat::kS16 ? 2 : 4; }

// Live parameters of a `config` or `set`; only the keys given are set.
struct ParamUpdate {
  std::optional<double> pitch, formant, index_rate, rms_mix, threshold_db, input_gain_db,
      output_gain_db;
  std::optional<dsp::NoiseLevel> noise_suppression;
  void apply_to(pipeline::StreamParams* p) const;
};
nlohmann::json params_json(const pipeline::StreamParams& p);

struct SessionConfig {
  int sample_rate = 0;
  AudioFormat format = AudioFormat::kS16;
  int channels = 1;
  std::string model;  // "" = built-in voice; already checked to be a plain name
  int64_t speaker = 0;
  std::optional<double> block_ms, extra_ms, crossfade_ms;
  std::optional<std::string> f0_method;
  ParamUpdate params;
  std::optional<std::string> token;
};

enum class MessageType { kConfig, kSet, kPing, kStats, kBye };

struct ControlMessage {
  MessageType type = MessageType::kPing;
  nlohmann::json id;     // null when absent
  SessionConfig config;  // kConfig
  ParamUpdate params;    // kSet
};

// Parses one control message (a WebSocket text message or a TCP type-0 payload). Throws
// ProtocolError: kBadJson (not a JSON object), kUnknownType, kBadField (names the field and what
// was expected), kBadModelName. The error's message never echoes more than 64 input bytes.
ControlMessage parse_control(std::string_view text);
// The "id" of a message that failed to parse, when it was a JSON object with one (for the reply).
nlohmann::json try_extract_id(std::string_view text);

// Audio payload <-> float samples. decode_audio appends n / (bytes * channels) mono frames to
// *out (stereo is mixed down as (L+R)/2); throws kBadAudioLength when the byte count is not a
// multiple of bytes_per_sample * channels. encode_audio replaces *out with the samples (clamped
// to [-1, 1]; s16 rounds).
void decode_audio(const uint8_t* data, size_t n, AudioFormat f, int channels,
                  std::vector<float>* out);
void encode_audio(const float* samples, size_t n, AudioFormat f, std::string* out);

// Input re-blocking: a FIFO of float samples with amortised O(1) push/pop (no unbounded growth
// beyond what is pushed and not yet popped).
class BlockQueue {
 public:
  void push(const float* x, size_t n);
  void push_silence(size_t n);
  // Copies the oldest n samples to out and drops them; false (nothing changes) when fewer queued.
  bool pop(float* out, size_t n);
  size_t size() const { return buf_.size() - head_; }
  void clear();

 private:
  std::vector<float> buf_;
  size_t head_ = 0;
};

// Token bucket: capacity `rate` messages, refilled at `rate` per second. Time is passed in so
// the class is deterministic under test. rate <= 0 disables the limit.
class RateLimiter {
 public:
  explicit RateLimiter(double rate) : rate_(rate), tokens_(rate) {}
  // True when a message at time now_s (monotonic seconds) is allowed.
  bool allow(double now_s);

 private:
  double rate_, tokens_, last_s_ = -1.0;
};

// Constant-time comparison of a presented token with the configured one.
bool token_equal(std::string_view presented, std::string_view expected);

}  // namespace rvc::server
