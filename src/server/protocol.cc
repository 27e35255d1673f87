// Control messages of docs/protocol.md: JSON text -> ControlMessage, with one error code per kind
// of bad input. Field checks are written out here (not delegated to StreamConfig::validate) so
// every message names the JSON field the client sent.
#include "rvc/server/protocol.h"

#include <cmath>
#include <cstring>

#include "rvc/dsp/denoise.h"
#include "rvc/pipeline/model_store.h"

namespace rvc::server {
namespace {

using nlohmann::json;

struct CodeInfo {
  const char* name;
  bool fatal;
  int ws_close;
  int http;
};

constexpr CodeInfo kCodes[kCodeCount] = {
    {"bad_json", false, 1000, 400},           {"unknown_type", false, 1000, 400},
    {"bad_field", false, 1000, 400},          {"not_configured", false, 1000, 400},
    {"already_configured", false, 1000, 400}, {"bad_audio_length", false, 1000, 400},
    {"bad_model_name", false, 1000, 400},     {"model_not_found", false, 1000, 404},
    {"model_load_failed", false, 1000, 500},  {"unauthorized", true, 1008, 401},
    {"server_busy", true, 1013, 503},         {"frame_too_large", true, 1009, 413},
    {"bad_frame", true, 1002, 400},           {"rate_limited", true, 1008, 429},
    {"idle_timeout", true, 1001, 408},        {"slow_reader", true, 1008, 500},
    {"shutting_down", true, 1001, 503},       {"internal", true, 1011, 500},
};

const CodeInfo& info(Code c) { return kCodes[static_cast<int>(c)]; }

// At most 64 bytes of client text in a message, control characters replaced.
std::string excerpt(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    const char ch = s[i];
    const auto u = static_cast<unsigned char>(ch);
    out += (u < 0x20 || u >= 0x7f) ? '?' : ch;  // ASCII only: a cut UTF-8 sequence is not text
  }
  if (s.size() > 64) out += "...";
  return out;
}

[[noreturn]] void bad_field(const std::string& field, const std::string& expected) {
  throw ProtocolError(Code::kBadField, field + ": expected " + expected);
}

double number(const json& j, const std::string& field, double lo, double hi) {
  if (!j.is_number()) bad_field(field, "a number");
  const double v = j.get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    std::ostringstream os;
    os << lo << ".." << hi << ", got " << v;
    bad_field(field, os.str());
  }
  return v;
}

int64_t integer(const json& j, const std::string& field, int64_t lo, int64_t hi) {
  if (!j.is_number_integer() && !j.is_number_unsigned()) bad_field(field, "an integer");
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(hi)) {
    bad_field(field, std::to_string(lo) + ".." + std::to_string(hi));
  }
  const int64_t v = j.get<int64_t>();
  if (v < lo || v > hi) {
    bad_field(field, std::to_string(lo) + ".." + std::to_string(hi) + ", got " + std::to_string(v));
  }
  return v;
}

std::string string_field(const json& j, const std::string& field) {
  if (!j.is_string()) bad_field(field, "a string");
  return j.get<std::string>();
}

ParamUpdate parse_params(const json& j, const std::string& where) {
  if (!j.is_object()) bad_field(where, "an object");
  ParamUpdate u;
  for (const auto& [key, v] : j.items()) {
    const std::string f = where + "." + key;
    if (key == "pitch") {
      u.pitch = number(v, f, -24, 24);
    } else if (key == "formant") {
      u.formant = number(v, f, -12, 12);
    } else if (key == "index_rate") {
      u.index_rate = number(v, f, 0, 1);
    } else if (key == "rms_mix") {
      u.rms_mix = number(v, f, 0, 1);
    } else if (key == "threshold_db") {
      u.threshold_db = number(v, f, -120, 0);
    } else if (key == "input_gain_db") {
      u.input_gain_db = number(v, f, -60, 30);
    } else if (key == "output_gain_db") {
      u.output_gain_db = number(v, f, -60, 30);
    } else if (key == "noise_suppression") {
      if (!v.is_string()) {
        bad_field(f, "\"off\", \"low\", \"moderate\", \"high\" or \"very_high\"");
      }
      try {
        u.noise_suppression = dsp::parse_noise_level(v.get<std::string>(), f);
      } catch (const Error&) {
        bad_field(f, "\"off\", \"low\", \"moderate\", \"high\" or \"very_high\", got '" +
                         excerpt(v.get<std::string>()) + "'");
      }
    } else {
      throw ProtocolError(Code::kBadField,
                          where + ": unknown parameter '" + excerpt(key) +
                              "' (expected pitch, formant, index_rate, rms_mix, threshold_db, "
                              "input_gain_db, output_gain_db, noise_suppression)");
    }
  }
  return u;
}

SessionConfig parse_config(const json& j) {
  SessionConfig c;
  if (!j.contains("sample_rate")) bad_field("sample_rate", "an integer 8000..192000 (missing)");
  c.sample_rate = static_cast<int>(integer(j["sample_rate"], "sample_rate", 8000, 192000));
  if (!j.contains("format")) bad_field("format", "\"pcm_s16le\" or \"pcm_f32le\" (missing)");
  const std::string fmt = string_field(j["format"], "format");
  if (fmt == "pcm_s16le") {
    c.format = AudioFormat::kS16;
  } else if (fmt == "pcm_f32le") {
    c.format = AudioFormat::kF32;
  } else {
    bad_field("format", "\"pcm_s16le\" or \"pcm_f32le\", got '" + excerpt(fmt) + "'");
  }
  if (j.contains("channels"))
    c.channels = static_cast<int>(integer(j["channels"], "channels", 1, 2));
  if (j.contains("model") && !j["model"].is_null()) {
    c.model = string_field(j["model"], "model");
    if (!c.model.empty()) {
      try {
        pipeline::ModelStore::check_name(c.model);
      } catch (const Error& e) {
        throw ProtocolError(Code::kBadModelName, "model: '" + excerpt(c.model) +
                                                     "' is not a voice name (" +
                                                     "a NAME in the models directory, no path)");
      }
    }
  }
  if (j.contains("speaker")) c.speaker = integer(j["speaker"], "speaker", 0, 1 << 20);
  if (j.contains("block_ms")) c.block_ms = number(j["block_ms"], "block_ms", 10, 1000);
  if (j.contains("extra_ms")) c.extra_ms = number(j["extra_ms"], "extra_ms", 0, 5000);
  if (j.contains("crossfade_ms")) {
    c.crossfade_ms = number(j["crossfade_ms"], "crossfade_ms", 0, 200);
  }
  if (j.contains("f0_method")) {
    const std::string m = string_field(j["f0_method"], "f0_method");
    if (m != "rmvpe" && m != "yin") bad_field("f0_method", "\"rmvpe\" or \"yin\"");
    c.f0_method = m;
  }
  if (j.contains("params")) c.params = parse_params(j["params"], "params");
  if (j.contains("token")) c.token = string_field(j["token"], "token");
  return c;
}

}  // namespace

std::string to_wire(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

const char* code_name(Code c) { return info(c).name; }
bool code_fatal(Code c) { return info(c).fatal; }
int code_ws_close(Code c) { return info(c).ws_close; }
int code_http_status(Code c) { return info(c).http; }

json error_json(Code code, const std::string& message, const json& id) {
  json j = {{"type", "error"},
            {"code", code_name(code)},
            {"message", message},
            {"fatal", code_fatal(code)}};
  if (!id.is_null()) j["id"] = id;
  return j;
}

const char* audio_format_name(AudioFormat f) {
  return f == AudioFormat::kS16 ? "pcm_s16le" : "pcm_f32le";
}

void ParamUpdate::apply_to(pipeline::StreamParams* p) const {
  if (pitch) p->pitch_semitones = *pitch;
  if (formant) p->formant_semitones = *formant;
  if (index_rate) p->index_rate = *index_rate;
  if (rms_mix) p->rms_mix = *rms_mix;
  if (threshold_db) p->threshold_db = *threshold_db;
  if (input_gain_db) p->input_gain_db = *input_gain_db;
  if (output_gain_db) p->output_gain_db = *output_gain_db;
  if (noise_suppression) p->noise_suppression = *noise_suppression;
}

json params_json(const pipeline::StreamParams& p) {
  return {{"pitch", p.pitch_semitones},
          {"formant", p.formant_semitones},
          {"index_rate", p.index_rate},
          {"rms_mix", p.rms_mix},
          {"threshold_db", p.threshold_db},
          {"input_gain_db", p.input_gain_db},
          {"output_gain_db", p.output_gain_db},
          {"noise_suppression", dsp::noise_level_name(p.noise_suppression)}};
}

ControlMessage parse_control(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw ProtocolError(Code::kBadJson, "not valid JSON: '" + excerpt(text) + "'");
  }
  if (!j.is_object()) throw ProtocolError(Code::kBadJson, "expected a JSON object");
  ControlMessage m;
  if (j.contains("id")) m.id = j["id"];
  const auto t = j.find("type");
  if (t == j.end() || !t->is_string()) {
    throw ProtocolError(Code::kUnknownType,
                        "type: expected a string (config, set, ping, stats, bye)");
  }
  const std::string& type = t->get_ref<const std::string&>();
  if (type == "config") {
    m.type = MessageType::kConfig;
    m.config = parse_config(j);
  } else if (type == "set") {
    m.type = MessageType::kSet;
    if (!j.contains("params")) bad_field("params", "an object (missing)");
    m.params = parse_params(j["params"], "params");
  } else if (type == "ping") {
    m.type = MessageType::kPing;
  } else if (type == "stats") {
    m.type = MessageType::kStats;
  } else if (type == "bye") {
    m.type = MessageType::kBye;
  } else {
    throw ProtocolError(Code::kUnknownType, "type: unknown message type '" + excerpt(type) +
                                                "' (expected config, set, ping, stats, bye)");
  }
  return m;
}

json try_extract_id(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return nullptr;
  const auto it = j.find("id");
  return it == j.end() ? json(nullptr) : *it;
}

bool token_equal(std::string_view presented, std::string_view expected) {
  // Compare every byte of the longer string so the time does not depend on where they differ.
  const size_t n = std::max(presented.size(), expected.size());
  unsigned diff = presented.size() == expected.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < presented.size() ? presented[i] : 0;
    const unsigned char b = i < expected.size() ? expected[i] : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

bool RateLimiter::allow(double now_s) {
  if (rate_ <= 0) return true;
  if (last_s_ >= 0 && now_s > last_s_)
    tokens_ = std::min(rate_, tokens_ + (now_s - last_s_) * rate_);
  if (last_s_ < 0 || now_s > last_s_) last_s_ = now_s;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

}  // namespace rvc::server
