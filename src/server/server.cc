// Server: acceptors, signals, preload/readiness and the drain at shutdown (rvc/server/server.h).
#include "rvc/server/server.h"

#include <csignal>
#include <cstdio>
#include <sstream>

#include "connection.h"
#include "rvc/core/error.h"
#include "rvc/core/log.h"

namespace rvc::server {

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto a = net::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

void ServerConfig::validate() const {
  boost::system::error_code ec;
  if (host != "localhost") {
    net::ip::make_address(host, ec);
    if (ec) fail("host: expected an IP address or localhost, got '", host, "'");
  }
  if (port < 0 || port > 65535) fail("port: expected 0..65535, got ", port);
  if (tcp_port < -1 || tcp_port > 65535) fail("tcp-port: expected -1..65535, got ", tcp_port);
  if (token.empty() && !is_loopback_host(host)) {
    fail("host ", host,
         ": binding a non-loopback address needs an API token (--api-token or RVC_API_TOKEN)");
  }
  if (max_sessions < 1) fail("max-sessions: expected >= 1, got ", max_sessions);
  if (max_frame_bytes < 1024 || max_frame_bytes > (int64_t{1} << 30)) {
    fail("max-frame-bytes: expected 1024..1073741824, got ", max_frame_bytes);
  }
  if (max_send_queue_bytes < 1024) {
    fail("max-send-queue-bytes: expected >= 1024, got ", max_send_queue_bytes);
  }
  if (!(max_pending_ms >= 10)) fail("max-pending-ms: expected >= 10, got ", max_pending_ms);
  if (!(header_timeout_s > 0)) fail("header-timeout-s: expected > 0, got ", header_timeout_s);
  if (workers < 1 || workers > 256) fail("workers: expected 1..256, got ", workers);
  if (io_threads < 1 || io_threads > 64) fail("io-threads: expected 1..64, got ", io_threads);
  if (f0_method != "rmvpe" && f0_method != "yin") {
    fail("f0-method: expected rmvpe or yin, got '", f0_method, "'");
  }
}

std::string ServerConfig::to_string() const {
  std::ostringstream os;
  os << "host = " << host << "\nport = " << port << "\ntcp-port = " << tcp_port
     << "\napi-token = " << (token.empty() ? "(none)" : "(set)")
     << "\nmax-sessions = " << max_sessions << "\nmax-frame-bytes = " << max_frame_bytes
     << "\nmax-messages-per-second = " << max_messages_per_second
     << "\nidle-timeout-s = " << idle_timeout_s << "\nheader-timeout-s = " << header_timeout_s
     << "\nmax-send-queue-bytes = " << max_send_queue_bytes
     << "\nmax-pending-ms = " << max_pending_ms << "\nworkers = " << workers
     << "\nio-threads = " << io_threads << "\nblock-ms = " << block_ms
     << "\nf0-method = " << f0_method << "\nweb-root = " << web_root
     << "\nmodels-dir = " << models_dir << "\npreload = " << preload;
  return os.str();
}

struct Server::Impl {
  explicit Impl(ServerConfig c) : config(std::move(c)) {}

  ServerConfig config;
  std::unique_ptr<ServerState> st;  // destroyed after io (its handlers reference it)
  net::io_context io;
  tcp::acceptor http_acc{io}, tcp_acc{io};
  net::signal_set signals{io};
  net::steady_timer drain{io};
  std::vector<std::thread> threads;
  std::thread preload;
  int http_port = -1, tcp_port = -1;
  bool stopping = false;  // on the io thread
  std::chrono::steady_clock::time_point stop_t0;

  void listen(tcp::acceptor& acc, int port, const char* what, int* bound) {
    const std::string host = config.host == "localhost" ? "127.0.0.1" : config.host;
    const tcp::endpoint ep(net::ip::make_address(host), static_cast<unsigned short>(port));
    boost::system::error_code ec;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
    if (ec) fail("cannot listen on ", host, ":", port, " (", what, "): ", ec.message());
    *bound = acc.local_endpoint().port();
  }

  void accept_http() {
    http_acc.async_accept(net::make_strand(io),
                          [this](boost::system::error_code ec, tcp::socket s) {
                            if (!http_acc.is_open()) return;
                            if (!ec) std::make_shared<HttpConnection>(*st, std::move(s))->start();
                            accept_http();
                          });
  }

  void accept_tcp() {
    tcp_acc.async_accept(net::make_strand(io), [this](boost::system::error_code ec, tcp::socket s) {
      if (!tcp_acc.is_open()) return;
      if (!ec) {
        const uint64_t slot = st->shutting_down ? 0 : st->sessions.reserve();
        if (slot == 0) {
          reject(std::move(s), st->shutting_down ? Code::kShuttingDown : Code::kServerBusy);
        } else {
          boost::system::error_code rec;
          const auto ep = s.remote_endpoint(rec);
          const std::string remote =
              rec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
          std::make_shared<TcpConnection>(*st, std::move(s))->start(slot, remote);
        }
      }
      accept_tcp();
    });
  }

  void reject(tcp::socket s, Code code) {
    st->metrics.error(code);
    auto sock = std::make_shared<tcp::socket>(std::move(s));
    auto msg = std::make_shared<std::string>(
        encode_frame(FrameType::kControl,
                     to_wire(error_json(code, code == Code::kServerBusy ? "max-sessions reached"
                                                                        : "shutting down"))));
    net::async_write(*sock, net::buffer(*msg), [sock, msg](boost::system::error_code, size_t) {
      boost::system::error_code ec;
      sock->shutdown(tcp::socket::shutdown_send, ec);
      sock->close(ec);
    });
  }

  void do_preload() {
    try {
      // The built-in voice's one-time set-up, so the first session does not pay for it.
      pipeline::StreamConfig sc;
      sc.block_ms = config.block_ms;
      pipeline::Stream builtin(sc, pipeline::make_builtin_backend());
      builtin.warm_up();
      std::stringstream names(config.preload);
      for (std::string name; std::getline(names, name, ',');) {
        while (!name.empty() && name.front() == ' ') name.erase(name.begin());
        while (!name.empty() && name.back() == ' ') name.pop_back();
        if (name.empty()) continue;
        auto models = st->models.get(name, config.f0_method);
        pipeline::StreamConfig rc;
        rc.sample_rate = static_cast<int>(models->info().sample_rate_hz);
        rc.block_ms = config.block_ms;
        rc.extra_ms = config.extra_ms;
        rc.f0_method = config.f0_method;
        pipeline::Stream s(rc, pipeline::make_rvc_backend(models));
        s.warm_up();
      }
      st->ready = true;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(st->ready_mu);
      st->not_ready_reason = std::string("preload failed: ") + e.what();
      std::fprintf(stderr, "rvc-rt serve: %s\n", st->not_ready_reason.c_str());
    }
  }

  // On the io thread.
  void begin_stop() {
    if (stopping) return;
    stopping = true;
    stop_t0 = std::chrono::steady_clock::now();
    st->shutting_down = true;
    boost::system::error_code ec;
    http_acc.close(ec);
    tcp_acc.close(ec);
    signals.cancel(ec);
    for (const auto& s : st->sessions.sessions()) s->shutdown();
    poll_drain();
  }

  void poll_drain() {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_t0).count();
    if (st->sessions.size() == 0 || waited > config.drain_timeout_s) {
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([this](boost::system::error_code ec) {
      if (!ec) poll_drain();
    });
  }
};

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  impl_->config.validate();
}

Server::~Server() {
  if (!impl_->threads.empty()) {
    stop();
    wait();
  }
}

void Server::start() {
  Impl& m = *impl_;
  m.st = std::make_unique<ServerState>(m.config);
  m.listen(m.http_acc, m.config.port, "http", &m.http_port);
  if (m.config.tcp_port >= 0) m.listen(m.tcp_acc, m.config.tcp_port, "tcp", &m.tcp_port);
  m.accept_http();
  if (m.config.tcp_port >= 0) m.accept_tcp();
  if (m.config.handle_signals) {
    m.signals.add(SIGINT);
    m.signals.add(SIGTERM);
    m.signals.async_wait([&m](boost::system::error_code ec, int) {
      if (!ec) m.begin_stop();
    });
  }
  m.preload = std::thread([&m] { m.do_preload(); });
  for (int i = 0; i < m.config.io_threads; ++i) m.threads.emplace_back([&m] { m.io.run(); });
}

int Server::http_port() const { return impl_->http_port; }
int Server::tcp_port() const { return impl_->tcp_port; }

void Server::stop() {
  net::post(impl_->io, [m = impl_.get()] { m->begin_stop(); });
}

void Server::wait() {
  Impl& m = *impl_;
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  if (m.preload.joinable()) m.preload.join();
  // Workers may still post to connections; io is stopped, so those handlers are dropped with it.
  if (m.st) m.st->pool.stop();
}

}  // namespace rvc::server
