// rvc-rt client: streams an audio file through a running `rvc-rt serve` and writes the result.
//
//   rvc-rt client IN -o OUT [--url ws://HOST:PORT/ws | --tcp HOST:PORT] [--token T]
//                 [--pitch N] [--formant N] [--model NAME] [--realtime | --fast] ...
//
// One Asio thread: the sender paces chunks like a sound card (--realtime, the default) or sends
// each as soon as the previous one is written (--fast); the reader collects the converted
// blocks. At the end it prints the added latency per block (time from sending the input sample
// that completed a block to receiving that block: queueing + compute + network, on top of the
// algorithmic latency the server reports in `ready`), p50/p99, and the real-time factor.
// Exit status 0 = done, 2 = bad options, connection or server error (one line).
// Settings come from flags and RVC_* variables (RVC_URL, RVC_API_TOKEN, RVC_PITCH, ...) through
// rvc::Settings; like the tool commands the client reads a config file ([client] section) only
// when given --config FILE, since a shared $RVC_CONFIG names voice keys it does not have.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/formats/audio_file.h"
#include "rvc/server/client.h"
#include "rvc/server/protocol.h"

namespace rvc::app {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct ClientOptions {
  std::string input, output, url, tcp, token, model, format = "pcm_s16le";
  double pitch = 0, formant = 0, block_ms = 0, chunk_ms = 20;
  bool realtime = false, fast = false, quiet = false, print_config = false;
};

// Returns false when --help or --print-config printed what was asked.
bool parse(const std::vector<std::string>& args, ClientOptions* o) {
  Settings s("client", "IN");
  s.add("output", "OUT", "write the converted audio here (.wav or .flac)", &o->output)
      .alias("-o")
      .cli_only();
  s.add("url", "URL", "WebSocket URL (default ws://127.0.0.1:8765/ws)", &o->url);
  s.add("tcp", "HOST:PORT", "use the framed TCP protocol instead of WebSocket", &o->tcp);
  // serve's key: one RVC_API_TOKEN (or one config-file line) for both ends.
  s.add("api-token", "T", "API token (RVC_API_TOKEN; default none)", &o->token).alias("--token");
  s.add("model", "NAME", "voice in the server's models dir (default: built-in voice)", &o->model);
  s.add("pitch", "N", "pitch shift in semitones, -24..24 (default 0)", &o->pitch).range(-24, 24);
  s.add("formant", "N", "formant shift in semitones, -12..12 (default 0)", &o->formant)
      .range(-12, 12);
  s.add("block-ms", "MS", "session block length (default 0 = the server's)", &o->block_ms)
      .range(0, 5000);
  s.add("chunk-ms", "MS", "audio per message sent, 1..1000 (default 20)", &o->chunk_ms)
      .range(1, 1000);
  // Not "format": convert's format (wav | flac) would share RVC_FORMAT and the config key.
  s.add("wire-format", "F", "audio on the wire: pcm_s16le (default) or pcm_f32le", &o->format)
      .alias("--format")
      .choices({"pcm_s16le", "pcm_f32le"});
  s.add_flag("realtime", "pace the input like a live source (the default)", &o->realtime);
  s.add_flag("fast", "send as fast as the server takes it", &o->fast);
  s.add_flag("quiet", "only the summary line", &o->quiet);
  s.add_flag("print-config", "print the effective settings and exit", &o->print_config).cli_only();
  // Like the tool commands: a shared $RVC_CONFIG names voice keys the client does not have.
  if (!s.load(args, environment_without_config())) {
    std::fputs(usage_without_config(s).c_str(), stdout);
    return false;
  }
  if (o->print_config) {
    std::fputs(s.effective_config().c_str(), stdout);
    return false;
  }
  if (s.positional().size() != 1) fail("client: expected one input file (see --help)");
  o->input = s.positional()[0];
  if (o->output.empty()) fail("client: -o OUT is required");
  if (o->realtime && o->fast) {
    // The higher source wins (a flag over RVC_FAST, ...); the same source saying both is an error.
    if (s.source("realtime") == s.source("fast")) {
      fail("client: --realtime and --fast exclude each other");
    }
    (s.source("realtime") > s.source("fast") ? o->fast : o->realtime) = false;
  }
  if (!o->url.empty() && !o->tcp.empty()) {
    if (s.source("url") == s.source("tcp")) fail("client: use either --url or --tcp");
    (s.source("url") > s.source("tcp") ? o->tcp : o->url).clear();
  }
  return true;
}

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

class Run {
 public:
  Run(const ClientOptions& o, formats::Audio audio) : o_(o), audio_(std::move(audio)) {
    fmt_ = o.format == "pcm_s16le" ? server::AudioFormat::kS16 : server::AudioFormat::kF32;
    chunk_ = std::max<size_t>(1, static_cast<size_t>(o.chunk_ms * audio_.sample_rate / 1000.0));
  }

  int go() {
    net::io_context io;
    t_ = server::make_client_transport(io, o_.url, o_.tcp, o_.token);
    t_->on_message = [this](bool binary, std::string d) { on_message(binary, std::move(d)); };
    t_->on_closed = [this](const std::string& why) {
      closed_ = why.empty() ? "closed" : why;
      if (timer_) timer_->cancel();
    };
    json cfg = {{"type", "config"},
                {"sample_rate", audio_.sample_rate},
                {"format", o_.format},
                {"channels", 1},
                {"params", {{"pitch", o_.pitch}, {"formant", o_.formant}}}};
    if (!o_.model.empty()) cfg["model"] = o_.model;
    if (o_.block_ms > 0) cfg["block_ms"] = o_.block_ms;
    if (!o_.tcp.empty() && !o_.token.empty()) cfg["token"] = o_.token;
    timer_ = std::make_unique<net::steady_timer>(io);
    t_->connect([this, cfg] { t_->send(cfg.dump(), false, nullptr); });
    io.run();
    // The WebSocket stream must go before the io_context that owns its service.
    t_.reset();
    timer_.reset();
    if (!error_.empty()) fail("client: ", error_);
    if (!got_bye_) fail("client: connection ended before the server's bye (", closed_, ")");
    return finish();
  }

 private:
  void on_message(bool binary, std::string d) {
    if (binary) {
      const size_t before = out_.size();
      server::decode_audio(reinterpret_cast<const uint8_t*>(d.data()), d.size(), fmt_, 1, &out_);
      const auto now = Clock::now();
      // Added latency of each block whose input was real (not the bye padding).
      for (size_t end = before + block_; end <= out_.size(); end += block_) {
        // Input frames [0, end) complete this block: the chunk holding frame end - 1.
        if (end > audio_.samples.size()) break;
        const auto it = std::lower_bound(
            sent_.begin(), sent_.end(), end,
            [](const std::pair<size_t, Clock::time_point>& c, size_t f) { return c.first < f; });
        if (it == sent_.end()) break;
        added_ms_.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      }
      return;
    }
    json j = json::parse(d, nullptr, false);
    if (j.is_discarded()) return;
    const std::string type = j.value("type", "");
    if (type == "ready") {
      block_ = j.value("block_frames", size_t{0});
      // Output sample i is the voice for input sample i - (latency - block): the algorithmic
      // latency counts collecting the block, which is not a shift inside the sample stream.
      latency_frames_ = j.value("latency_frames", size_t{0}) - block_;
      latency_ms_ = j.value("latency_ms", 0.0);
      if (!o_.quiet) {
        std::printf("ready: %s, block %zu frames, algorithmic latency %.1f ms\n",
                    j.value("voice", std::string("?")).c_str(), block_, latency_ms_);
      }
      t0_ = Clock::now();
      send_next();
    } else if (type == "error") {
      const std::string msg = j.value("code", std::string("?")) + ": " + j.value("message", "");
      if (j.value("fatal", false) || block_ == 0) {
        error_ = "server: " + msg;
        t_->close();
      } else {
        std::fprintf(stderr, "rvc-rt client: server: %s\n", msg.c_str());
      }
    } else if (type == "bye") {
      got_bye_ = true;
      wall_s_ = std::chrono::duration<double>(Clock::now() - t0_).count();
    }
  }

  void send_next() {
    const size_t n = audio_.samples.size();
    if (pos_ >= n) {
      t_->send(json{{"type", "bye"}}.dump(), false, nullptr);
      return;
    }
    const size_t k = std::min(chunk_, n - pos_);
    std::string bytes;
    server::encode_audio(audio_.samples.data() + pos_, k, fmt_, &bytes);
    pos_ += k;
    t_->send(std::move(bytes), true, [this] {
      sent_.emplace_back(pos_, Clock::now());
      if (o_.fast) {
        send_next();
        return;
      }
      const auto due =
          t0_ + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(pos_) / audio_.sample_rate));
      timer_->expires_at(due);
      timer_->async_wait([this](boost::system::error_code ec) {
        if (!ec) send_next();
      });
    });
  }

  int finish() {
    const int sr = audio_.sample_rate;
    const size_t n = audio_.samples.size();
    std::vector<float> y(n, 0.0f);
    for (size_t i = 0; i < n && i + latency_frames_ < out_.size(); ++i) {
      y[i] = out_[i + latency_frames_];
    }
    formats::write_audio(o_.output, y.data(), static_cast<int64_t>(y.size()), sr);
    const double audio_s = static_cast<double>(n) / sr;
    std::printf(
        "client: %.2f s audio in %.2f s (%.2fx real time), %zu blocks; algorithmic latency %.1f "
        "ms; added latency p50 %.1f ms p99 %.1f ms; wrote %s\n",
        audio_s, wall_s_, wall_s_ > 0 ? audio_s / wall_s_ : 0.0,
        out_.size() / std::max<size_t>(1, block_), latency_ms_, pct(added_ms_, 0.5),
        pct(added_ms_, 0.99), o_.output.c_str());
    return 0;
  }

  const ClientOptions& o_;
  formats::Audio audio_;
  server::AudioFormat fmt_;
  size_t chunk_ = 0, block_ = 0, latency_frames_ = 0, pos_ = 0;
  double latency_ms_ = 0, wall_s_ = 0;
  std::unique_ptr<server::ClientTransport> t_;
  std::unique_ptr<net::steady_timer> timer_;
  std::vector<std::pair<size_t, Clock::time_point>> sent_;  // (frames sent, when written)
  std::vector<float> out_;
  std::vector<double> added_ms_;
  Clock::time_point t0_;
  bool got_bye_ = false;
  std::string error_, closed_;
};

int run_client(const std::vector<std::string>& args) {
  ClientOptions o;
  if (!parse(args, &o)) return 0;
  formats::Audio audio = formats::read_audio_mono(o.input);
  if (audio.samples.empty()) fail(o.input, ": no audio");
  Run run(o, std::move(audio));
  return run.go();
}

const RegisterCommand kRegister("client", "stream a file through a running server, report latency",
                                run_client);

}  // namespace
}  // namespace rvc::app
