// Framed TCP transport (docs/protocol.md "TCP framing"): partial reads go through FrameDecoder,
// which rejects oversized or unknown frames from the header alone.
#include "connection.h"

namespace rvc::server {

TcpConnection::TcpConnection(ServerState& st, tcp::socket&& socket)
    : Connection(st, socket.get_executor(), Transport::kTcp),
      socket_(std::move(socket)),
      decoder_(static_cast<size_t>(st.config.max_frame_bytes)) {}

void TcpConnection::start(uint64_t slot, const std::string& remote) {
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  begin(slot, remote);
}

std::string TcpConnection::frame(std::string data, bool binary) {
  return encode_frame(binary ? FrameType::kAudio : FrameType::kControl, data);
}

void TcpConnection::start_read() {
  if (closing_ || closed_ || reading_) return;
  if (rpos_ < rlen_) {
    process();
    return;
  }
  reading_ = true;
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  socket_.async_read_some(net::buffer(rbuf_), [self](const boost::system::error_code& ec,
                                                     size_t n) { self->on_read(ec, n); });
}

void TcpConnection::on_read(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (closing_) {
    // Our close began while this read was pending: keep discarding until the peer's FIN.
    if (ec) {
      abort();
      finish();
    } else {
      drain_after_shutdown();
    }
    return;
  }
  if (ec) {  // EOF or reset, possibly mid-frame: the session just ends
    abort();
    finish();
    return;
  }
  rpos_ = 0;
  rlen_ = n;
  process();
}

void TcpConnection::process() {
  while (rpos_ < rlen_) {
    if (closing_ || closed_) return;
    try {
      rpos_ += decoder_.feed(rbuf_.data() + rpos_, rlen_ - rpos_);
    } catch (const ProtocolError& e) {
      rpos_ = rlen_;
      session_->fail(e.code(), e.what());
      return;
    }
    if (!decoder_.ready()) continue;
    const FrameType type = decoder_.type();
    const std::string payload = decoder_.take_payload();
    if (!on_message()) return;
    const bool more =
        type == FrameType::kControl
            ? session_->on_text(payload)
            : session_->on_audio(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    if (!more) {
      paused_ = true;
      return;
    }
  }
  start_read();
}

void TcpConnection::do_write(const Out& o) {
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  net::async_write(
      socket_, net::buffer(o.data),
      [self](const boost::system::error_code& ec, size_t) { self->on_write_done(ec); });
}

void TcpConnection::begin_close(std::optional<Code>) {
  if (closed_) return;
  // FIN after the queued frames; then read (and drop) until the peer closes too, so unread
  // input does not turn our close into a reset that could destroy the frames just sent.
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (!reading_) drain_after_shutdown();
}

void TcpConnection::drain_after_shutdown() {
  if (closed_) return;
  reading_ = true;
  auto self = std::static_pointer_cast<TcpConnection>(shared_from_this());
  socket_.async_read_some(net::buffer(rbuf_), [self](const boost::system::error_code& ec, size_t) {
    self->reading_ = false;
    if (ec) {
      self->abort();
      self->finish();
    } else {
      self->drain_after_shutdown();
    }
  });
}

void TcpConnection::abort() {
  boost::system::error_code ec;
  socket_.close(ec);
}

}  // namespace rvc::server
