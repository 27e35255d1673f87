// rvc-rt serve: the network server (WebSocket + framed TCP + HTTP), docs/protocol.md.
//
// Settings come from flags, RVC_* variables and the config file's [serve] section through
// rvc::Settings (docs/configuration.md); --print-config prints them. The effective config goes
// to stdout at start, then one line the tests parse:
//   rvc-rt serve: listening http=HOST:PORT tcp=HOST:PORT        (tcp=off when disabled)
// SIGINT/SIGTERM drain the sessions and exit 0; bad settings or a port in use exit 2.
#include <cstdio>
#include <string>
#include <vector>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/nn/backend.h"
#include "rvc/server/server.h"

namespace rvc::app {
namespace {

int run_serve(const std::vector<std::string>& args) {
  server::ServerConfig c;
  int threads = 1;
  bool print_config = false;
  Settings s("serve");
  s.add("host", "ADDR", "bind address (default 127.0.0.1; non-loopback needs --api-token)",
        &c.host);
  s.add("port", "N", "HTTP + WebSocket port, 0 = any free (default 8765)", &c.port).range(0, 65535);
  s.add("tcp-port", "N", "framed TCP port, 0 = any free, -1 = off (default 9876)", &c.tcp_port)
      .range(-1, 65535);
  s.add("api-token", "T", "bearer token clients must present (RVC_API_TOKEN)", &c.token)
      .alias("--token");
  s.add("max-sessions", "N", "concurrent sessions (default 32)", &c.max_sessions).range(1, 100000);
  s.add("max-frame-bytes", "N", "largest message payload (default 1048576)", &c.max_frame_bytes)
      .range(1024, 1 << 30);
  s.add("max-messages-per-second", "N", "per connection; 0 = no limit (default 500)",
        &c.max_messages_per_second)
      .range(0, 1e6);
  s.add("idle-timeout-s", "S", "close sessions without a complete message this long (default 30)",
        &c.idle_timeout_s)
      .range(0, 86400);
  s.add("header-timeout-s", "S", "an HTTP request must arrive within this (default 10)",
        &c.header_timeout_s)
      .range(0.1, 3600);
  s.add("max-send-queue-bytes", "N", "output queued for a slow reader before it is cut (4 MiB)",
        &c.max_send_queue_bytes)
      .range(1024, 1 << 30);
  s.add("max-pending-ms", "MS", "input buffered ahead of compute per session (default 2000)",
        &c.max_pending_ms)
      .range(10, 600000);
  s.add("workers", "N", "inference threads (default 2)", &c.workers).range(1, 256);
  s.add("io-threads", "N", "network threads (default 1)", &c.io_threads).range(1, 64);
  s.add("threads", "N", "compute threads per RVC block (default 1)", &threads).range(1, 256);
  s.add("block-ms", "MS", "default session block length (default 100)", &c.block_ms)
      .range(10, 1000);
  s.add("extra-ms", "MS", "default RVC left context (default 500)", &c.extra_ms).range(0, 5000);
  s.add("f0-method", "M", "default RVC pitch tracker: rmvpe or yin", &c.f0_method)
      .choices({"rmvpe", "yin"});
  s.add("web-root", "DIR", "static files served at / (default web)", &c.web_root);
  s.add("models-dir", "DIR", "voices (NAME.pth) sessions may name (default models)", &c.models_dir);
  s.add("hubert", "FILE", "hubert_base.pt (default: searched in assets/ and the models dir)",
        &c.hubert);
  s.add("rmvpe", "FILE", "rmvpe.pt (default: searched like --hubert)", &c.rmvpe);
  s.add("preload", "NAMES", "comma-separated voices loaded before /readyz is ready", &c.preload);
  s.add("drain-timeout-s", "S", "at shutdown, wait this long for sessions (default 10)",
        &c.drain_timeout_s)
      .range(0, 3600);
  s.add_flag("print-config", "print the effective settings and exit", &print_config).cli_only();
  if (!s.load(args)) {
    std::fputs(s.usage().c_str(), stdout);
    return 0;
  }
  if (print_config) {
    std::fputs(s.effective_config().c_str(), stdout);
    return 0;
  }
  if (!s.positional().empty()) fail("serve: unexpected argument '", s.positional()[0], "'");
  // Sessions run side by side on the workers: each RVC block gets few threads by default.
  nn::set_num_threads(threads);
  server::Server srv(c);
  srv.start();
  std::printf("rvc-rt serve: config:\n");
  const std::string cfg = c.to_string();
  for (size_t a = 0, b; a < cfg.size(); a = b + 1) {
    b = cfg.find('\n', a);
    if (b == std::string::npos) b = cfg.size();
    std::printf("  %s\n", cfg.substr(a, b - a).c_str());
  }
  const std::string host = c.host;
  std::printf("rvc-rt serve: listening http=%s:%d tcp=%s\n", host.c_str(), srv.http_port(),
              srv.tcp_port() < 0 ? "off" : (host + ":" + std::to_string(srv.tcp_port())).c_str());
  std::fflush(stdout);
  srv.wait();
  std::printf("rvc-rt serve: stopped\n");
  return 0;
}

const RegisterCommand kRegister("serve",
                                "network server: WebSocket, TCP and HTTP (docs/protocol.md)",
                                run_serve);

}  // namespace
}  // namespace rvc::app
