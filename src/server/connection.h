// src/server/connection.h: the transports. A Connection owns one socket and one Session; all its
// own state lives on its strand (so `io-threads` > 1 is safe). What both transports share is in
// the base class: the bounded send queue (slow reader -> slow_reader and a cut connection, never
// unbounded buffering), the per-connection message rate limit, the idle timer (no complete
// message for idle-timeout-s ends the session, which also ends trickling clients), and read
// backpressure (the session says when its input is too far ahead of compute).
//
// Lifetime: pending async operations hold the connection; the session holds it through its
// SessionSink until finish() detaches them, which every terminal path calls.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "rvc/server/framing.h"
#include "server_state.h"
#include "session.h"

namespace rvc::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

class Connection : public SessionSink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerState& st, net::any_io_executor ex, Transport t);
  ~Connection() override;

  // SessionSink: thread-safe, post onto the strand.
  void send(std::string data, bool binary) override;
  void close_after_send(std::optional<Code> code) override;
  void resume_read() override;
  int64_t queued_bytes() const override { return queued_.load(); }

 protected:
  struct Out {
    std::string data;
    bool binary = false;
  };
  // Creates the session (slot already reserved) and starts reading.
  void begin(uint64_t slot, const std::string& remote);
  // A complete message arrived: rate limit and idle timer. False when the session was failed.
  bool on_message();
  void on_write_done(const boost::system::error_code& ec);
  // Terminal: detach the session; the socket is left to the subclass.
  void finish();

  virtual void do_write(const Out& o) = 0;
  virtual void begin_close(std::optional<Code> code) = 0;
  virtual void abort() = 0;
  virtual void start_read() = 0;
  virtual std::string frame(std::string data, bool binary) = 0;

  ServerState& st_;
  net::any_io_executor ex_;
  Transport transport_;
  std::shared_ptr<Session> session_;
  bool reading_ = false, paused_ = false, closing_ = false, closed_ = false;

 private:
  void enqueue(Out o);
  void write_next();
  void arm_idle();

  std::deque<Out> q_;
  std::atomic<int64_t> queued_{0};
  bool writing_ = false;
  std::optional<Code> close_code_;
  net::steady_timer idle_, linger_;
  RateLimiter limiter_;
  std::chrono::steady_clock::time_point t0_;
};

class WsConnection : public Connection {
 public:
  WsConnection(ServerState& st, beast::tcp_stream&& stream);
  // Completes the upgrade of req; the slot is reserved by the caller.
  void accept(http::request<http::string_body> req, uint64_t slot, const std::string& remote);

 private:
  void do_write(const Out& o) override;
  void begin_close(std::optional<Code> code) override;
  void abort() override;
  void start_read() override;
  std::string frame(std::string data, bool) override { return data; }
  void on_read(const boost::system::error_code& ec, size_t n);

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer rbuf_;
  http::request<http::string_body> req_;
};

class TcpConnection : public Connection {
 public:
  TcpConnection(ServerState& st, tcp::socket&& socket);
  void start(uint64_t slot, const std::string& remote);

 private:
  void do_write(const Out& o) override;
  void begin_close(std::optional<Code> code) override;
  void abort() override;
  void start_read() override;
  std::string frame(std::string data, bool binary) override;
  void on_read(const boost::system::error_code& ec, size_t n);
  // Decodes what is buffered; reads more unless paused or closing.
  void process();
  void drain_after_shutdown();

  tcp::socket socket_;
  FrameDecoder decoder_;
  std::array<uint8_t, 16384> rbuf_{};
  size_t rpos_ = 0, rlen_ = 0;
};

// HTTP/1.1 on the main port: REST, health, metrics, static files, and the WebSocket upgrade.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(ServerState& st, tcp::socket&& socket);
  void start();

 private:
  void read();
  void on_read(const boost::system::error_code& ec);
  void upgrade(http::request<http::string_body>&& req);
  http::response<http::string_body> handle(const http::request<http::string_body>& req);
  void write(http::response<http::string_body>&& res);

  ServerState& st_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> res_;
};

// The request's token (Authorization: Bearer, else ?token=) matches, or no token is configured.
bool authorized(const ServerConfig& c, const http::request<http::string_body>& req);

}  // namespace rvc::server
