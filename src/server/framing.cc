// TCP frame decoding and HTTP target parsing (see rvc/server/framing.h).
#include "rvc/server/framing.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "rvc/server/protocol.h"

namespace rvc::server {

std::string encode_frame(FrameType type, std::string_view payload) {
  std::string out(kFrameHeaderBytes + payload.size(), '\0');
  const auto n = static_cast<uint32_t>(payload.size());
  for (int b = 0; b < 4; ++b)
    out[static_cast<size_t>(b)] = static_cast<char>((n >> (8 * b)) & 0xff);
  out[4] = static_cast<char>(type);
  std::memcpy(out.data() + kFrameHeaderBytes, payload.data(), payload.size());
  return out;
}

size_t FrameDecoder::feed(const uint8_t* data, size_t n) {
  if (ready_) return 0;  // the caller must take the frame first
  size_t used = 0;
  if (header_len_ < kFrameHeaderBytes) {
    const size_t k = std::min(n, kFrameHeaderBytes - header_len_);
    std::memcpy(header_ + header_len_, data, k);
    header_len_ += k;
    used += k;
    if (header_len_ < kFrameHeaderBytes) return used;
    const uint32_t len =
        static_cast<uint32_t>(header_[0]) | (static_cast<uint32_t>(header_[1]) << 8) |
        (static_cast<uint32_t>(header_[2]) << 16) | (static_cast<uint32_t>(header_[3]) << 24);
    if (header_[4] > 1) {
      throw ProtocolError(Code::kBadFrame, "frame type " + std::to_string(header_[4]) +
                                               ": expected 0 (control) or 1 (audio)");
    }
    if (len > max_payload_) {
      throw ProtocolError(Code::kFrameTooLarge, "frame of " + std::to_string(len) +
                                                    " bytes: the limit is " +
                                                    std::to_string(max_payload_));
    }
    type_ = static_cast<FrameType>(header_[4]);
    expected_ = len;
    payload_.clear();
    payload_.reserve(expected_);
  }
  const size_t k = std::min(n - used, expected_ - payload_.size());
  payload_.append(reinterpret_cast<const char*>(data + used), k);
  used += k;
  if (payload_.size() == expected_) ready_ = true;
  return used;
}

std::string FrameDecoder::take_payload() {
  std::string p = std::move(payload_);
  payload_.clear();
  header_len_ = 0;
  expected_ = 0;
  ready_ = false;
  return p;
}

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int a = hex(s[i + 1]), b = hex(s[i + 2]);
      if (a < 0 || b < 0) return std::nullopt;
      c = static_cast<char>(a * 16 + b);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

}  // namespace

std::optional<Target> parse_target(std::string_view target) {
  if (target.empty() || target[0] != '/') return std::nullopt;
  Target t;
  const size_t q = target.find('?');
  const auto path = decode(target.substr(0, q), false);
  if (!path) return std::nullopt;
  t.path = *path;
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    const auto k = decode(kv.substr(0, eq), true);
    const auto v =
        decode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1), true);
    if (!k || !v) return std::nullopt;
    t.query.emplace(*k, *v);  // the first occurrence wins
  }
  return t;
}

std::string bearer_token(std::string_view a) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (a.size() <= kPrefix.size()) return "";
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(kPrefix[i]))) {
      return "";
    }
  }
  std::string_view t = a.substr(kPrefix.size());
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}

std::optional<std::filesystem::path> static_file_path(const std::filesystem::path& root,
                                                      std::string_view path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  std::filesystem::path out = root;
  bool any = false;
  size_t i = 1;
  while (i <= path.size()) {
    const size_t slash = std::min(path.find('/', i), path.size());
    const std::string_view seg = path.substr(i, slash - i);
    i = slash + 1;
    if (seg.empty()) continue;
    if (seg[0] == '.' || seg.find('\\') != std::string_view::npos ||
        seg.find('\0') != std::string_view::npos) {
      return std::nullopt;
    }
    out /= std::string(seg);
    any = true;
  }
  if (!any || path.back() == '/') out /= "index.html";
  return out;
}

const char* mime_type(const std::filesystem::path& p) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "application/javascript"},
      {".mjs", "application/javascript"},
      {".css", "text/css"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".wasm", "application/wasm"},
      {".wav", "audio/wav"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const std::string ext = p.extension().string();
  for (const auto& [e, t] : kTypes) {
    if (ext == e) return t;
  }
  return "application/octet-stream";
}

std::optional<ModelRoute> match_model_route(std::string_view path) {
  constexpr std::string_view kPrefix = "/api/models/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view rest = path.substr(kPrefix.size());
  const size_t slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  ModelRoute r{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  if (r.action != "load" && r.action != "unload") return std::nullopt;
  return r;
}

}  // namespace rvc::server
