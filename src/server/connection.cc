// Connection base: send queue, close sequencing, idle timer and rate limit (connection.h).
#include "connection.h"

namespace rvc::server {
namespace {
constexpr auto kLinger = std::chrono::seconds(5);  // a closing peer that never reads is cut
}

Connection::Connection(ServerState& st, net::any_io_executor ex, Transport t)
    : st_(st),
      ex_(ex),
      transport_(t),
      idle_(ex),
      linger_(ex),
      limiter_(st.config.max_messages_per_second),
      t0_(std::chrono::steady_clock::now()) {}

Connection::~Connection() {
  if (session_) session_->detach();
}

void Connection::begin(uint64_t slot, const std::string& remote) {
  session_ = std::make_shared<Session>(st_, slot, transport_, remote, shared_from_this());
  st_.sessions.attach(slot, session_);
  if (st_.shutting_down) session_->shutdown();
  arm_idle();
  start_read();
}

void Connection::send(std::string data, bool binary) {
  net::post(ex_, [self = shared_from_this(), d = frame(std::move(data), binary), binary]() mutable {
    self->enqueue(Out{std::move(d), binary});
  });
}

void Connection::close_after_send(std::optional<Code> code) {
  net::post(ex_, [self = shared_from_this(), code] {
    if (self->closing_ || self->closed_) return;
    self->closing_ = true;
    self->close_code_ = code;
    self->idle_.cancel();
    self->linger_.expires_after(kLinger);
    self->linger_.async_wait([w = self->weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto s = w.lock()) {
        s->abort();
        s->finish();
      }
    });
    if (!self->writing_) self->begin_close(code);
  });
}

void Connection::resume_read() {
  net::post(ex_, [self = shared_from_this()] {
    if (self->closing_ || self->closed_ || !self->paused_) return;
    self->paused_ = false;
    self->arm_idle();
    self->start_read();
  });
}

void Connection::enqueue(Out o) {
  if (closing_ || closed_) return;
  queued_ += static_cast<int64_t>(o.data.size());
  if (queued_.load() > st_.config.max_send_queue_bytes) {
    // The client does not read: cut it (an error message could not get through either).
    st_.metrics.error(Code::kSlowReader);
    closed_ = true;
    abort();
    finish();
    return;
  }
  q_.push_back(std::move(o));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (closed_) {
    writing_ = false;
    return;
  }
  if (q_.empty()) {
    writing_ = false;
    if (closing_) begin_close(close_code_);
    return;
  }
  writing_ = true;
  do_write(q_.front());
}

void Connection::on_write_done(const boost::system::error_code& ec) {
  if (!q_.empty()) {
    queued_ -= static_cast<int64_t>(q_.front().data.size());
    q_.pop_front();
  }
  if (ec) {
    writing_ = false;
    abort();
    finish();
    return;
  }
  write_next();
}

bool Connection::on_message() {
  if (closing_ || closed_) return false;
  const double now_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  if (!limiter_.allow(now_s)) {
    session_->fail(Code::kRateLimited,
                   "more than " +
                       std::to_string(static_cast<int>(st_.config.max_messages_per_second)) +
                       " messages per second");
    return false;
  }
  arm_idle();
  return true;
}

void Connection::arm_idle() {
  if (st_.config.idle_timeout_s <= 0 || closing_ || closed_) return;
  idle_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(st_.config.idle_timeout_s)));
  idle_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    auto s = w.lock();
    if (!s || !s->session_ || s->closing_ || s->closed_) return;
    s->session_->fail(Code::kIdleTimeout, "no complete message for " +
                                              std::to_string(s->st_.config.idle_timeout_s) + " s");
  });
}

void Connection::finish() {
  closed_ = true;
  idle_.cancel();
  linger_.cancel();
  if (session_) session_->detach();
}

}  // namespace rvc::server
