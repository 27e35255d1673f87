// Session state machine (docs/protocol.md "Sessions"); see session.h for the threading contract.
#include "session.h"

#include <algorithm>

#include "rvc/pipeline/voice_models.h"
#include "server_state.h"

namespace rvc::server {
namespace {

using nlohmann::json;
constexpr size_t kRing = 512;

double now_unix_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Session::Session(ServerState& st, uint64_t slot, Transport transport, std::string remote,
                 std::shared_ptr<SessionSink> sink)
    : st_(st),
      slot_(slot),
      transport_(transport),
      remote_(std::move(remote)),
      created_(std::chrono::steady_clock::now()),
      need_token_(transport == Transport::kTcp && !st.config.token.empty()),
      sink_(std::move(sink)) {
  compute_ms_.reserve(kRing);
  st_.metrics.session_opened(transport_);
}

Session::~Session() {
  st_.metrics.session_closed(transport_);
  st_.sessions.release(slot_);
}

void Session::send_locked(const json& j) {
  if (sink_) sink_->send(to_wire(j), false);
}

void Session::send(const json& j) {
  std::lock_guard<std::mutex> lk(mu_);
  send_locked(j);
}

void Session::close_locked(std::optional<Code> code) {
  state_ = State::kClosed;
  queue_.clear();
  if (sink_) sink_->close_after_send(code);
}

void Session::fail(Code code, const std::string& message, const json& id) {
  st_.metrics.error(code);
  std::lock_guard<std::mutex> lk(mu_);
  if (state_ == State::kClosed) return;
  send_locked(error_json(code, message, id));
  if (code_fatal(code)) close_locked(code);
}

void Session::detach() {
  std::lock_guard<std::mutex> lk(mu_);
  state_ = State::kClosed;
  queue_.clear();
  sink_.reset();
}

void Session::schedule_locked() {
  if (scheduled_) return;
  scheduled_ = true;
  st_.pool.post([self = shared_from_this()] { self->pump(); });
}

bool Session::on_text(std::string_view text) {
  ControlMessage m;
  try {
    m = parse_control(text);
  } catch (const ProtocolError& e) {
    if (need_token_ && !authed_) {
      fail(Code::kUnauthorized, "the first message must be a config with the API token");
      return false;
    }
    fail(e.code(), e.what(), try_extract_id(text));
    return true;
  }
  if (need_token_ && !authed_) {
    if (m.type != MessageType::kConfig || !m.config.token ||
        !token_equal(*m.config.token, st_.config.token)) {
      fail(Code::kUnauthorized,
           m.type == MessageType::kConfig && m.config.token
               ? "config.token: wrong API token"
               : "the first message must be a config with the API token",
           m.id);
      return false;
    }
    authed_ = true;
  }
  std::unique_lock<std::mutex> lk(mu_);
  if (state_ == State::kClosed) return false;
  switch (m.type) {
    case MessageType::kPing:
      send_locked({{"type", "pong"}, {"id", m.id}, {"server_time_ms", now_unix_ms()}});
      return true;
    case MessageType::kConfig:
      if (state_ != State::kAwaiting) {
        lk.unlock();
        fail(Code::kAlreadyConfigured, "config: this session is already configured", m.id);
        return true;
      }
      state_ = State::kConfiguring;
      st_.pool.post([self = shared_from_this(), m = std::move(m)]() mutable {
        self->configure(std::move(m));
      });
      return true;
    case MessageType::kSet:
    case MessageType::kStats: {
      if (state_ != State::kRunning) {
        lk.unlock();
        fail(Code::kNotConfigured, "send a config and wait for ready first", m.id);
        return true;
      }
      if (m.type == MessageType::kStats) {
        json s = stats_locked();
        if (!m.id.is_null()) s["id"] = m.id;
        send_locked(s);
        return true;
      }
      pipeline::StreamParams p = stream_->params();
      m.params.apply_to(&p);
      try {
        stream_->set_params(p);
      } catch (const Error& e) {
        lk.unlock();
        fail(Code::kBadField, std::string("params.") + e.what(), m.id);
        return true;
      }
      json r = {{"type", "params"}, {"params", params_json(p)}};
      if (!m.id.is_null()) r["id"] = m.id;
      send_locked(r);
      return true;
    }
    case MessageType::kBye:
      bye_id_ = m.id;
      if (state_ != State::kRunning) {
        finish_ = Finish::kBye;
        finish_locked();
        return false;
      }
      if (finish_ == Finish::kNone) {
        finish_ = Finish::kBye;
        // Pad so every sample sent comes out: the partial block, then the latency.
        const size_t partial = (block_ - queue_.size() % block_) % block_;
        const size_t lat = static_cast<size_t>(stream_->latency_frames());
        queue_.push_silence(partial + (lat + block_ - 1) / block_ * block_);
        schedule_locked();
      }
      return true;
  }
  return true;
}

bool Session::on_audio(const uint8_t* data, size_t n) {
  std::unique_lock<std::mutex> lk(mu_);
  if (state_ == State::kClosed) return false;
  if (need_token_ && !authed_) {
    lk.unlock();
    fail(Code::kUnauthorized, "the first message must be a config with the API token");
    return false;
  }
  if (state_ != State::kRunning) {
    lk.unlock();
    fail(Code::kNotConfigured, "audio before ready: send a config first (audio dropped)");
    return true;
  }
  if (finish_ != Finish::kNone) return true;  // audio after bye: nothing more is converted
  decoded_.clear();
  try {
    decode_audio(data, n, format_, channels_, &decoded_);
  } catch (const ProtocolError& e) {
    lk.unlock();
    fail(e.code(), e.what());
    return true;
  }
  queue_.push(decoded_.data(), decoded_.size());
  frames_in_ += static_cast<int64_t>(decoded_.size());
  st_.metrics.audio_in(static_cast<int64_t>(decoded_.size()), sample_rate_);
  if (queue_.size() >= block_) schedule_locked();
  if (queue_.size() > max_pending_) {
    paused_ = true;
    return false;
  }
  return true;
}

void Session::shutdown() {
  std::lock_guard<std::mutex> lk(mu_);
  if (state_ == State::kClosed) return;
  if (state_ == State::kRunning) {
    if (finish_ == Finish::kNone) finish_ = Finish::kShutdown;
    schedule_locked();
    return;
  }
  finish_ = Finish::kShutdown;
  finish_locked();
}

void Session::finish_locked() {
  if (state_ == State::kClosed) return;
  if (finish_ == Finish::kBye) {
    json b = {{"type", "bye"}, {"frames_in", frames_in_}, {"frames_out", frames_out_}};
    if (!bye_id_.is_null()) b["id"] = bye_id_;
    send_locked(b);
    close_locked(std::nullopt);
  } else {
    st_.metrics.error(Code::kShuttingDown);
    send_locked(error_json(Code::kShuttingDown, "the server is shutting down"));
    close_locked(Code::kShuttingDown);
  }
}

void Session::configure(ControlMessage m) {
  const ServerConfig& cfg = st_.config;
  const SessionConfig& c = m.config;
  try {
    pipeline::StreamConfig sc;
    sc.sample_rate = c.sample_rate;
    sc.block_ms = c.block_ms.value_or(cfg.block_ms);
    sc.extra_ms = c.extra_ms.value_or(cfg.extra_ms);
    if (c.crossfade_ms) sc.crossfade_ms = *c.crossfade_ms;
    sc.f0_method = c.f0_method.value_or(cfg.f0_method);
    c.params.apply_to(&sc.params);
    std::unique_ptr<pipeline::VoiceBackend> backend;
    if (c.model.empty()) {
      backend = pipeline::make_builtin_backend();
    } else {
      auto models = st_.models.get(c.model, sc.f0_method);
      const int64_t speakers = models->synthesizer().speakers();
      if (c.speaker >= speakers) {
        throw ProtocolError(Code::kBadField, "speaker: expected 0.." +
                                                 std::to_string(speakers - 1) + " for this voice");
      }
      backend = pipeline::make_rvc_backend(std::move(models), c.speaker);
    }
    auto stream = std::make_unique<pipeline::Stream>(sc, std::move(backend));
    stream->warm_up();
    std::lock_guard<std::mutex> lk(mu_);
    if (state_ == State::kClosed) return;
    stream_ = std::move(stream);
    model_ = c.model;
    format_ = c.format;
    channels_ = c.channels;
    sample_rate_ = c.sample_rate;
    block_ = static_cast<size_t>(stream_->block_frames());
    in_.assign(block_, 0.0f);
    out_.assign(block_, 0.0f);
    max_pending_ =
        std::max(2 * block_, static_cast<size_t>(cfg.max_pending_ms * sample_rate_ / 1000));
    state_ = State::kRunning;
    json r = ready_locked();
    if (!m.id.is_null()) r["id"] = m.id;
    send_locked(r);
    return;
  } catch (const ProtocolError& e) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (state_ == State::kConfiguring) state_ = State::kAwaiting;
    }
    fail(e.code(), e.what(), m.id);
  } catch (const Error& e) {
    // The stream refused the combination (e.g. an RVC voice at a rate not a multiple of 100).
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (state_ == State::kConfiguring) state_ = State::kAwaiting;
    }
    fail(Code::kBadField, std::string("config: ") + e.what(), m.id);
  } catch (const std::exception& e) {
    fail(Code::kInternal, std::string("config: ") + e.what(), m.id);
  }
}

void Session::pump() {
  std::unique_lock<std::mutex> lk(mu_);
  if (state_ != State::kRunning) {
    scheduled_ = false;
    return;
  }
  if (queue_.size() < block_) {
    scheduled_ = false;
    if (finish_ != Finish::kNone) finish_locked();
    return;
  }
  queue_.pop(in_.data(), block_);
  if (paused_ && queue_.size() <= max_pending_ / 2) {
    paused_ = false;
    if (sink_) sink_->resume_read();
  }
  lk.unlock();

  std::string bytes;
  double seconds = 0.0;
  try {
    const auto t0 = std::chrono::steady_clock::now();
    stream_->process(in_.data(), out_.data());
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    encode_audio(out_.data(), block_, format_, &bytes);
  } catch (const std::exception& e) {
    lk.lock();
    scheduled_ = false;
    lk.unlock();
    fail(Code::kInternal, std::string("voice: ") + e.what());
    return;
  }
  const bool overrun = seconds > static_cast<double>(block_) / sample_rate_;
  st_.metrics.block(seconds, overrun);
  st_.metrics.audio_out(static_cast<int64_t>(block_), sample_rate_);

  lk.lock();
  if (sink_) sink_->send(std::move(bytes), true);
  frames_out_ += static_cast<int64_t>(block_);
  ++blocks_;
  overruns_ += overrun ? 1 : 0;
  const auto ms = static_cast<float>(seconds * 1000.0);
  if (compute_ms_.size() < kRing) {
    compute_ms_.push_back(ms);
  } else {
    compute_ms_[compute_pos_] = ms;
  }
  compute_pos_ = (compute_pos_ + 1) % kRing;
  compute_max_ms_ = std::max(compute_max_ms_, ms);
  if (state_ != State::kRunning) {
    scheduled_ = false;
    return;
  }
  if (queue_.size() >= block_) {
    // Back of the queue: sessions take turns block by block.
    st_.pool.post([self = shared_from_this()] { self->pump(); });
  } else {
    scheduled_ = false;
    if (finish_ != Finish::kNone) finish_locked();
  }
}

json Session::stats_locked() const {
  std::vector<float> t = compute_ms_;
  auto pct = [&](double q) -> double {
    if (t.empty()) return 0.0;
    const auto k = static_cast<size_t>(q * static_cast<double>(t.size() - 1) + 0.5);
    std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(k), t.end());
    return t[k];
  };
  const double p50 = pct(0.5), p99 = pct(0.99);
  return {{"type", "stats"},
          {"frames_in", frames_in_},
          {"frames_out", frames_out_},
          {"blocks", blocks_},
          {"pending_frames", queue_.size()},
          {"latency_ms", stream_ ? stream_->latency_ms() : 0.0},
          {"block_compute_ms", {{"p50", p50}, {"p99", p99}, {"max", compute_max_ms_}}},
          {"overruns", overruns_},
          {"send_queue_bytes", sink_ ? sink_->queued_bytes() : 0}};
}

json Session::ready_locked() const {
  const double block_ms = static_cast<double>(block_) * 1000.0 / sample_rate_;
  return {{"type", "ready"},
          {"session", std::to_string(slot_)},
          {"sample_rate", sample_rate_},
          {"format", audio_format_name(format_)},
          {"channels_in", channels_},
          {"channels_out", 1},
          {"block_frames", block_},
          {"block_ms", block_ms},
          {"latency_frames", stream_->latency_frames()},
          {"latency_ms", stream_->latency_ms()},
          {"voice", stream_->backend().describe()},
          {"model", model_.empty() ? json(nullptr) : json(model_)},
          {"params", params_json(stream_->params())}};
}

json Session::info() const {
  std::lock_guard<std::mutex> lk(mu_);
  static const char* kStates[] = {"awaiting_config", "configuring", "running", "closed"};
  return {{"id", std::to_string(slot_)},
          {"transport", transport_name(transport_)},
          {"remote", remote_},
          {"state", kStates[static_cast<int>(state_)]},
          {"model", model_.empty() ? json(nullptr) : json(model_)},
          {"sample_rate", sample_rate_},
          {"frames_in", frames_in_},
          {"frames_out", frames_out_},
          {"age_s",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - created_).count()}};
}

}  // namespace rvc::server
