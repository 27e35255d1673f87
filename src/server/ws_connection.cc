// WebSocket transport (Boost.Beast): text = control JSON, binary = audio.
#include "connection.h"

namespace rvc::server {

WsConnection::WsConnection(ServerState& st, beast::tcp_stream&& stream)
    : Connection(st, stream.get_executor(), Transport::kWs), ws_(std::move(stream)) {}

void WsConnection::accept(http::request<http::string_body> req, uint64_t slot,
                          const std::string& remote) {
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(st_.config.header_timeout_s));
  t.idle_timeout = websocket::stream_base::none();  // our own idle timer sends idle_timeout
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(static_cast<size_t>(st_.config.max_frame_bytes));
  ws_.auto_fragment(false);
  req_ = std::move(req);
  auto self = std::static_pointer_cast<WsConnection>(shared_from_this());
  ws_.async_accept(req_, [self, slot, remote](const boost::system::error_code& ec) {
    if (ec) {
      self->st_.sessions.release(slot);
      self->closed_ = true;
      return;
    }
    self->req_ = {};
    self->begin(slot, remote);
  });
}

void WsConnection::start_read() {
  if (closing_ || closed_ || reading_) return;
  reading_ = true;
  auto self = std::static_pointer_cast<WsConnection>(shared_from_this());
  ws_.async_read(rbuf_,
                 [self](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void WsConnection::on_read(const boost::system::error_code& ec, size_t) {
  reading_ = false;
  if (ec) {
    // Beast answers an oversized message itself with close 1009 (too_big).
    if (ec == websocket::error::message_too_big) st_.metrics.error(Code::kFrameTooLarge);
    if (!closing_) {
      if (ec != websocket::error::closed) abort();
      finish();
    }
    return;
  }
  if (!on_message()) {
    rbuf_.consume(rbuf_.size());
    return;
  }
  bool more;
  if (ws_.got_text()) {
    const std::string text = beast::buffers_to_string(rbuf_.data());
    rbuf_.consume(rbuf_.size());
    more = session_->on_text(text);
  } else {
    const auto b = rbuf_.data();
    more = session_->on_audio(static_cast<const uint8_t*>(b.data()), b.size());
    rbuf_.consume(rbuf_.size());
  }
  if (!more) {
    paused_ = true;
    return;
  }
  start_read();
}

void WsConnection::do_write(const Out& o) {
  ws_.text(!o.binary);
  auto self = std::static_pointer_cast<WsConnection>(shared_from_this());
  ws_.async_write(net::buffer(o.data),
                  [self](const boost::system::error_code& ec, size_t) { self->on_write_done(ec); });
}

void WsConnection::begin_close(std::optional<Code> code) {
  if (closed_) return;
  const auto cc = static_cast<uint16_t>(code ? code_ws_close(*code) : 1000);
  websocket::close_reason reason(static_cast<websocket::close_code>(cc),
                                 code ? code_name(*code) : "bye");
  auto self = std::static_pointer_cast<WsConnection>(shared_from_this());
  ws_.async_close(reason, [self](const boost::system::error_code&) {
    self->abort();
    self->finish();
  });
}

void WsConnection::abort() {
  boost::system::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace rvc::server
