// Client transports (rvc/server/client.h).
#include "rvc/server/client.h"

#include <deque>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "rvc/core/error.h"
#include "rvc/server/framing.h"

namespace rvc::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;

struct Out {
  std::string data;
  bool binary;
  std::function<void()> done;
};

void split_host_port(const std::string& hp, std::string* host, std::string* port) {
  const size_t colon = hp.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hp.size()) {
    fail("'", hp, "': expected HOST:PORT");
  }
  *host = hp.substr(0, colon);
  *port = hp.substr(colon + 1);
}

class WsClient : public ClientTransport {
 public:
  WsClient(net::io_context& io, std::string host, std::string port, std::string target,
           std::string token)
      : resolver_(io),
        ws_(io),
        host_(std::move(host)),
        port_(std::move(port)),
        target_(std::move(target)),
        token_(std::move(token)) {}

  void connect(std::function<void()> on_open) override {
    resolver_.async_resolve(
        host_, port_, [this, on_open](error_code ec, tcp::resolver::results_type r) {
          if (ec) return end("cannot resolve " + host_ + ": " + ec.message());
          beast::get_lowest_layer(ws_).async_connect(r, [this, on_open](error_code ec2, auto) {
            if (ec2) return end("cannot connect to " + host_ + ":" + port_ + ": " + ec2.message());
            if (!token_.empty()) {
              ws_.set_option(
                  websocket::stream_base::decorator([t = token_](websocket::request_type& q) {
                    q.set(beast::http::field::authorization, "Bearer " + t);
                  }));
            }
            ws_.read_message_max(64u << 20);
            ws_.async_handshake(
                res_, host_ + ":" + port_, target_, [this, on_open](error_code ec3) {
                  if (ec3) {
                    std::string why = "WebSocket upgrade refused: " + ec3.message();
                    if (res_.result_int() != 101 && res_.result_int() != 0) {
                      why = "HTTP " + std::to_string(res_.result_int()) + ": " + res_.body();
                    }
                    return end(why);
                  }
                  read();
                  on_open();
                });
          });
        });
  }

  void send(std::string data, bool binary, std::function<void()> done) override {
    q_.push_back({std::move(data), binary, std::move(done)});
    if (q_.size() == 1) write();
  }

  void close() override {
    if (closed_) return;
    ws_.async_close(websocket::close_code::normal, [](error_code) {});
  }

 private:
  void write() {
    ws_.text(!q_.front().binary);
    ws_.async_write(net::buffer(q_.front().data), [this](error_code ec, size_t) {
      if (ec) return end("write: " + ec.message());
      auto done = std::move(q_.front().done);
      q_.pop_front();
      if (!q_.empty()) write();
      if (done) done();
    });
  }
  void read() {
    ws_.async_read(buf_, [this](error_code ec, size_t) {
      if (ec) {
        const auto& r = ws_.reason();
        if (ec == websocket::error::closed) {
          return end(r.code == websocket::close_code::normal
                         ? ""
                         : "closed " + std::to_string(r.code) + " " +
                               std::string(r.reason.c_str()));
        }
        return end("read: " + ec.message());
      }
      std::string d = beast::buffers_to_string(buf_.data());
      buf_.consume(buf_.size());
      const bool bin = ws_.got_binary();
      read();
      if (on_message) on_message(bin, std::move(d));
    });
  }
  void end(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
    if (on_closed) on_closed(why);
  }

  tcp::resolver resolver_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::http::response<beast::http::string_body> res_;
  std::string host_, port_, target_, token_;
  beast::flat_buffer buf_;
  std::deque<Out> q_;
  bool closed_ = false;
};

class TcpClient : public ClientTransport {
 public:
  TcpClient(net::io_context& io, std::string host, std::string port)
      : resolver_(io), sock_(io), host_(std::move(host)), port_(std::move(port)), dec_(64u << 20) {}

  void connect(std::function<void()> on_open) override {
    resolver_.async_resolve(
        host_, port_, [this, on_open](error_code ec, tcp::resolver::results_type r) {
          if (ec) return end("cannot resolve " + host_ + ": " + ec.message());
          net::async_connect(sock_, r, [this, on_open](error_code ec2, const tcp::endpoint&) {
            if (ec2) return end("cannot connect to " + host_ + ":" + port_ + ": " + ec2.message());
            error_code ig;
            sock_.set_option(tcp::no_delay(true), ig);
            read();
            on_open();
          });
        });
  }

  void send(std::string data, bool binary, std::function<void()> done) override {
    q_.push_back({encode_frame(binary ? FrameType::kAudio : FrameType::kControl, data), binary,
                  std::move(done)});
    if (q_.size() == 1) write();
  }

  void close() override {
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
  }

 private:
  void write() {
    net::async_write(sock_, net::buffer(q_.front().data), [this](error_code ec, size_t) {
      if (ec) return end("write: " + ec.message());
      auto done = std::move(q_.front().done);
      q_.pop_front();
      if (!q_.empty()) write();
      if (done) done();
    });
  }
  void read() {
    sock_.async_read_some(net::buffer(rbuf_), [this](error_code ec, size_t n) {
      if (ec)
        return end(ec == net::error::eof && dec_.partial_bytes() == 0 ? ""
                                                                      : "read: " + ec.message());
      size_t pos = 0;
      try {
        while (pos < n) {
          pos += dec_.feed(rbuf_.data() + pos, n - pos);
          if (dec_.ready()) {
            const bool bin = dec_.type() == FrameType::kAudio;
            std::string p = dec_.take_payload();
            if (on_message) on_message(bin, std::move(p));
            if (closed_) return;
          }
        }
      } catch (const std::exception& e) {
        return end(std::string("bad frame from server: ") + e.what());
      }
      read();
    });
  }
  void end(const std::string& why) {
    if (closed_) return;
    closed_ = true;
    error_code ec;
    sock_.close(ec);
    if (on_closed) on_closed(why);
  }

  tcp::resolver resolver_;
  tcp::socket sock_;
  std::string host_, port_;
  FrameDecoder dec_;
  std::array<uint8_t, 65536> rbuf_{};
  std::deque<Out> q_;
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<ClientTransport> make_client_transport(net::io_context& io, const std::string& url,
                                                       const std::string& tcp_addr,
                                                       const std::string& token) {
  std::string host, port;
  if (!tcp_addr.empty()) {
    split_host_port(tcp_addr, &host, &port);
    return std::make_unique<TcpClient>(io, host, port);
  }
  const std::string u = url.empty() ? "ws://127.0.0.1:8765/ws" : url;
  if (u.rfind("ws://", 0) != 0)
    fail("--url '", u, "': expected ws://HOST:PORT/PATH (wss is not supported)");
  const std::string rest = u.substr(5);
  const size_t slash = rest.find('/');
  const std::string hp = rest.substr(0, slash);
  const std::string target = slash == std::string::npos ? "/ws" : rest.substr(slash);
  if (hp.find(':') == std::string::npos) {
    host = hp;
    port = "80";
  } else {
    split_host_port(hp, &host, &port);
  }
  return std::make_unique<WsClient>(io, host, port, target, token);
}

}  // namespace rvc::server
