// rvc/server/server.h: `rvc-rt serve`, the network server of docs/protocol.md.
//
// Threads: `io_threads` network threads (Boost.Asio) accept, parse and post; `workers` inference
// threads run the sessions' pipeline::Streams one block at a time (round-robin, so one busy
// session cannot starve the others) and post the encoded output back to the connection.
// Voice models are loaded once (ModelRegistry) and shared by every session using them; each
// session owns its Stream and parameters.
//
// Lifetime: Server(config) validates; start() binds both ports (throws rvc::Error naming the
// address) and returns; wait() blocks until stop() or SIGINT/SIGTERM (when handle_signals) has
// drained the sessions (pending output sent, then `shutting_down`) and every thread is joined.
// stop() may be called from any thread. Library code never exits the process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace rvc::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8765;      // HTTP + WebSocket; 0 = any free port
  int tcp_port = 9876;  // framed TCP; 0 = any free port, -1 = off
  std::string token;    // bearer token; "" = no auth (only allowed on loopback addresses)
  int max_sessions = 32;
  int64_t max_frame_bytes = 1 << 20;
  double max_messages_per_second = 500;
  double idle_timeout_s = 30;
  double header_timeout_s = 10;
  int64_t max_send_queue_bytes = 4 << 20;
  double max_pending_ms = 2000;
  double drain_timeout_s = 10;  // at shutdown, sessions still open after this are cut
  int workers = 2;
  int io_threads = 1;
  double block_ms = 100;  // session defaults (a config message may override them)
  double extra_ms = 500;  // see StreamConfig::extra_ms
  std::string f0_method = "rmvpe";
  std::string web_root = "web";
  std::string models_dir = "models";
  std::string hubert, rmvpe;  // explicit asset paths ("" = searched as the ModelStore does)
  std::string preload;        // comma-separated voice names loaded before /readyz says ready
  bool handle_signals = true;

  // Throws rvc::Error naming the setting; refuses an empty token on a non-loopback host.
  void validate() const;
  // One "key = value" line per setting, the token masked.
  std::string to_string() const;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  // The bound ports (after start()); tcp_port() is -1 when TCP is off.
  int http_port() const;
  int tcp_port() const;
  void wait();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rvc::server
