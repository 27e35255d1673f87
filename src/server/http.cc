// HTTP/1.1 on the main port (docs/protocol.md "HTTP endpoints"): health, readiness, metrics,
// the model REST API, sessions, static files and the WebSocket upgrade at /ws. Requests must
// arrive within header-timeout-s (slowloris); bodies are capped at 64 KiB (no endpoint takes one).
#include <fstream>
#include <sstream>

#include "connection.h"

namespace rvc::server {
namespace {

using nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
constexpr uintmax_t kMaxStaticBytes = 32u << 20;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

Response make(unsigned status, const std::string& type, std::string body, const Request& req) {
  Response res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "rvc-rt");
  res.set(http::field::content_type, type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  return res;
}

Response json_res(unsigned status, const json& j, const Request& req) {
  return make(status, "application/json", to_wire(j), req);
}

Response error_res(ServerState& st, Code code, const std::string& msg, const Request& req) {
  st.metrics.error(code);
  return json_res(static_cast<unsigned>(code_http_status(code)), error_json(code, msg), req);
}

std::string remote_of(const tcp::socket& s) {
  boost::system::error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

bool authorized(const ServerConfig& c, const Request& req) {
  if (c.token.empty()) return true;
  const auto it = req.find(http::field::authorization);
  if (it != req.end()) {
    const std::string t = bearer_token(std::string_view(it->value().data(), it->value().size()));
    if (!t.empty()) return token_equal(t, c.token);
  }
  const auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (!target) return false;
  const auto q = target->query.find("token");
  return q != target->query.end() && token_equal(q->second, c.token);
}

HttpConnection::HttpConnection(ServerState& st, tcp::socket&& socket)
    : st_(st), stream_(std::move(socket)) {}

void HttpConnection::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
}

void HttpConnection::read() {
  parser_.emplace();
  parser_->header_limit(16 * 1024);
  parser_->body_limit(64 * 1024);
  buf_.max_size(128 * 1024);
  stream_.expires_after(seconds(st_.config.header_timeout_s));
  http::async_read(stream_, buf_, *parser_,
                   [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                     self->on_read(ec);
                   });
}

void HttpConnection::on_read(const boost::system::error_code& ec) {
  if (ec) {
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      // A malformed request: one 400, then close.
      Request dummy;
      dummy.version(11);
      dummy.keep_alive(false);
      write(error_res(st_, Code::kBadField, std::string("HTTP request: ") + ec.message(), dummy));
      return;
    }
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    return;
  }
  Request req = parser_->release();
  if (websocket::is_upgrade(req)) {
    upgrade(std::move(req));
    return;
  }
  const auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (target) {
    if (const auto route = match_model_route(target->path)) {
      if (req.method() != http::verb::post) {
        write(json_res(405, error_json(Code::kBadField, "use POST"), req));
        return;
      }
      if (!authorized(st_.config, req)) {
        write(error_res(st_, Code::kUnauthorized, "missing or wrong API token", req));
        return;
      }
      // Loading takes seconds: on a worker, not the network thread.
      st_.pool.post([self = shared_from_this(), r = *route, req = std::move(req)]() mutable {
        Response res;
        try {
          if (r.action == "load") {
            self->st_.models.get(r.name, self->st_.config.f0_method);
            res = json_res(200, {{"name", r.name}, {"loaded", true}}, req);
          } else {
            self->st_.models.unload(r.name);
            res = json_res(200, {{"name", r.name}, {"loaded", false}}, req);
          }
        } catch (const ProtocolError& e) {
          res = error_res(self->st_, e.code(), e.what(), req);
        }
        net::post(self->stream_.get_executor(),
                  [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
      });
      return;
    }
  }
  write(handle(req));
}

void HttpConnection::upgrade(Request&& req) {
  Request& r = req;
  r.keep_alive(false);
  const auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (!target || target->path != "/ws") {
    write(json_res(404, error_json(Code::kBadField, "WebSocket endpoint is /ws"), r));
    return;
  }
  if (!authorized(st_.config, req)) {
    write(error_res(st_, Code::kUnauthorized, "missing or wrong API token", r));
    return;
  }
  if (st_.shutting_down) {
    write(error_res(st_, Code::kShuttingDown, "the server is shutting down", r));
    return;
  }
  const uint64_t slot = st_.sessions.reserve();
  if (slot == 0) {
    write(error_res(st_, Code::kServerBusy,
                    "max-sessions (" + std::to_string(st_.config.max_sessions) + ") reached", r));
    return;
  }
  const std::string remote = remote_of(stream_.socket());
  stream_.expires_never();
  req.keep_alive(true);
  auto ws = std::make_shared<WsConnection>(st_, std::move(stream_));
  ws->accept(std::move(req), slot, remote);
}

Response HttpConnection::handle(const Request& req) {
  const auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (!target) return json_res(400, error_json(Code::kBadField, "bad request target"), req);
  const std::string& path = target->path;
  const bool get = req.method() == http::verb::get;
  const bool api = path == "/metrics" || path.rfind("/api/", 0) == 0;
  if (api && !authorized(st_.config, req)) {
    return error_res(st_, Code::kUnauthorized, "missing or wrong API token", req);
  }
  if (!get) return json_res(405, error_json(Code::kBadField, "method not allowed"), req);
  if (path == "/healthz") return json_res(200, {{"status", "ok"}}, req);
  if (path == "/readyz") {
    if (st_.ready && !st_.shutting_down) return json_res(200, {{"ready", true}}, req);
    std::string reason;
    {
      std::lock_guard<std::mutex> lk(st_.ready_mu);
      reason = st_.shutting_down ? "shutting down" : st_.not_ready_reason;
    }
    return json_res(503, {{"ready", false}, {"reason", reason}}, req);
  }
  if (path == "/metrics") {
    return make(200, "text/plain; version=0.0.4",
                st_.metrics.render(st_.models.loaded_count(), st_.ready && !st_.shutting_down),
                req);
  }
  if (path == "/api/models") return json_res(200, st_.models.list(), req);
  if (path == "/api/sessions") {
    json list = json::array();
    for (const auto& s : st_.sessions.sessions()) list.push_back(s->info());
    return json_res(200, {{"sessions", list}}, req);
  }
  if (path == "/ws") {
    return json_res(426, error_json(Code::kBadField, "/ws expects a WebSocket upgrade"), req);
  }
  if (api) return json_res(404, error_json(Code::kBadField, "no such endpoint"), req);
  const auto file = static_file_path(st_.config.web_root, path);
  std::error_code fec;
  if (!file || !std::filesystem::is_regular_file(*file, fec) ||
      std::filesystem::file_size(*file, fec) > kMaxStaticBytes) {
    return json_res(404, error_json(Code::kBadField, "not found"), req);
  }
  std::ifstream in(*file, std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  return make(200, mime_type(*file), body.str(), req);
}

void HttpConnection::write(Response&& res) {
  res.prepare_payload();
  const bool keep = res.keep_alive();
  auto sp = std::make_shared<Response>(std::move(res));
  res_ = sp;
  stream_.expires_after(seconds(st_.config.header_timeout_s));
  http::async_write(stream_, *sp,
                    [self = shared_from_this(), keep](const boost::system::error_code& ec, size_t) {
                      self->res_.reset();
                      if (ec || !keep) {
                        boost::system::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->stream_.close();
                        return;
                      }
                      self->read();
                    });
}

}  // namespace rvc::server
