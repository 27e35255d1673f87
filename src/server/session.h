// src/server/session.h: one client session, independent of the transport (docs/protocol.md,
// "Sessions"). The connection (WebSocket or TCP) feeds it whole messages on its network strand;
// the session answers through a SessionSink, hands blocks of audio to the WorkerPool and the
// worker sends the converted blocks back through the same sink.
//
// Threads: on_text/on_audio/fail/shutdown/detach may be called from any thread (one mutex);
// pump() and configure() run on worker threads, and at most one pump() of a session is queued
// or running at a time (the `scheduled_` flag), so the Stream is only touched by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "metrics.h"
#include "rvc/pipeline/stream.h"
#include "rvc/server/protocol.h"

namespace rvc::server {

struct ServerState;

// Implemented by the connections. Every method is thread-safe (it posts onto the connection's
// strand) and non-blocking.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  virtual void send(std::string data, bool binary) = 0;
  // Closes after everything queued so far is written; nullopt = a normal close (bye).
  virtual void close_after_send(std::optional<Code> code) = 0;
  // The session drained its input below the limit: the connection may read again.
  virtual void resume_read() = 0;
  virtual int64_t queued_bytes() const = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ServerState& st, uint64_t slot, Transport transport, std::string remote,
          std::shared_ptr<SessionSink> sink);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One complete message. Return false when the connection should stop reading: the session is
  // closed, or its input is over max-pending-ms (then resume_read() follows).
  bool on_text(std::string_view text);
  bool on_audio(const uint8_t* data, size_t n);
  // Sends the error; fatal codes close the session after it.
  void fail(Code code, const std::string& message, const nlohmann::json& id = nullptr);
  // Server stopping: process the full blocks already received, send them, then shutting_down.
  void shutdown();
  // The connection is gone: drop the sink (breaks the connection <-> session cycle) and stop.
  void detach();
  nlohmann::json info() const;
  uint64_t id() const { return slot_; }

 private:
  enum class State { kAwaiting, kConfiguring, kRunning, kClosed };
  enum class Finish { kNone, kBye, kShutdown };

  void configure(ControlMessage m);
  void pump();
  void finish_locked();
  void schedule_locked();
  void send(const nlohmann::json& j);
  void send_locked(const nlohmann::json& j);
  void close_locked(std::optional<Code> code);
  nlohmann::json stats_locked() const;
  nlohmann::json ready_locked() const;

  ServerState& st_;
  const uint64_t slot_;
  const Transport transport_;
  const std::string remote_;
  const std::chrono::steady_clock::time_point created_;
  const bool need_token_;

  mutable std::mutex mu_;
  std::shared_ptr<SessionSink> sink_;
  State state_ = State::kAwaiting;
  Finish finish_ = Finish::kNone;
  nlohmann::json bye_id_;
  bool authed_ = false, scheduled_ = false, paused_ = false;
  std::string model_;
  std::unique_ptr<pipeline::Stream> stream_;
  AudioFormat format_ = AudioFormat::kS16;
  int channels_ = 1, sample_rate_ = 0;
  size_t block_ = 0, max_pending_ = 0;
  BlockQueue queue_;
  std::vector<float> decoded_, in_, out_;  // scratch: network side, worker side
  int64_t frames_in_ = 0, frames_out_ = 0, blocks_ = 0, overruns_ = 0;
  std::vector<float> compute_ms_;  // ring of the last kRing block times
  size_t compute_pos_ = 0;
  float compute_max_ms_ = 0;
};

}  // namespace rvc::server
