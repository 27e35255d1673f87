// The session protocol's pure parts (rvc/server/protocol.h): every kind of bad control message
// gets its documented code (docs/protocol.md), audio payload conversion, re-blocking, the rate
// limiter and the token comparison. Runs under ASan/UBSan too (label sanitize).
#include "rvc/server/protocol.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace rvc::server {
namespace {

using nlohmann::json;

Code code_of(const std::string& text) {
  try {
    parse_control(text);
  } catch (const ProtocolError& e) {
    return e.code();
  }
  ADD_FAILURE() << "accepted: " << text;
  return Code::kInternal;
}

std::string message_of(const std::string& text) {
  try {
    parse_control(text);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

TEST(Control, ParsesAFullConfig) {
  const ControlMessage m = parse_control(
      R"({"type":"config","sample_rate":48000,"format":"pcm_f32le","channels":2,"model":"alice",)"
      R"("speaker":1,"block_ms":50,"extra_ms":1000,"crossfade_ms":20,"f0_method":"yin",)"
      R"("params":{"pitch":4,"formant":-2,"index_rate":0.5,"rms_mix":0.25,"threshold_db":-50,)"
      R"("input_gain_db":3,"output_gain_db":-3,"noise_suppression":"very_high"},"token":"t",)"
      R"("id":9})");
  EXPECT_EQ(m.type, MessageType::kConfig);
  EXPECT_EQ(m.id, json(9));
  const SessionConfig& c = m.config;
  EXPECT_EQ(c.sample_rate, 48000);
  EXPECT_EQ(c.format, AudioFormat::kF32);
  EXPECT_EQ(c.channels, 2);
  EXPECT_EQ(c.model, "alice");
  EXPECT_EQ(c.speaker, 1);
  EXPECT_EQ(*c.block_ms, 50);
  EXPECT_EQ(*c.extra_ms, 1000);
  EXPECT_EQ(*c.crossfade_ms, 20);
  EXPECT_EQ(*c.f0_method, "yin");
  EXPECT_EQ(*c.token, "t");
  pipeline::StreamParams p;
  c.params.apply_to(&p);
  EXPECT_EQ(p.pitch_semitones, 4);
  EXPECT_EQ(p.formant_semitones, -2);
  EXPECT_EQ(p.index_rate, 0.5);
  EXPECT_EQ(p.rms_mix, 0.25);
  EXPECT_EQ(p.threshold_db, -50);
  EXPECT_EQ(p.input_gain_db, 3);
  EXPECT_EQ(p.output_gain_db, -3);
  EXPECT_EQ(p.noise_suppression, dsp::NoiseLevel::kVeryHigh);
  EXPECT_EQ(params_json(p)["pitch"], 4.0);
  EXPECT_EQ(params_json(p)["noise_suppression"], "very_high");
}

TEST(Control, MinimalConfigKeepsDefaults) {
  const ControlMessage m =
      parse_control(R"({"type":"config","sample_rate":16000,"format":"pcm_s16le","model":null})");
  EXPECT_EQ(m.config.channels, 1);
  EXPECT_TRUE(m.config.model.empty());
  EXPECT_FALSE(m.config.block_ms);
  EXPECT_TRUE(m.id.is_null());
  pipeline::StreamParams p;
  p.pitch_semitones = 7;
  m.config.params.apply_to(&p);
  EXPECT_EQ(p.pitch_semitones, 7);  // untouched
  EXPECT_EQ(p.noise_suppression, dsp::NoiseLevel::kOff);
  EXPECT_EQ(params_json(p)["noise_suppression"], "off");
}

TEST(Control, OtherTypes) {
  EXPECT_EQ(parse_control(R"({"type":"ping","id":"x"})").type, MessageType::kPing);
  EXPECT_EQ(parse_control(R"({"type":"stats"})").type, MessageType::kStats);
  EXPECT_EQ(parse_control(R"({"type":"bye","extra":1})").type, MessageType::kBye);
  const ControlMessage s = parse_control(R"({"type":"set","params":{"pitch":-3}})");
  EXPECT_EQ(s.type, MessageType::kSet);
  EXPECT_EQ(*s.params.pitch, -3);
  EXPECT_FALSE(s.params.formant);
}

TEST(Control, MalformedJsonIsBadJson) {
  EXPECT_EQ(code_of(""), Code::kBadJson);
  EXPECT_EQ(code_of("{"), Code::kBadJson);
  EXPECT_EQ(code_of("{\"type\":\"ping\"} trailing"), Code::kBadJson);
  EXPECT_EQ(code_of("[1,2]"), Code::kBadJson);
  EXPECT_EQ(code_of("\"ping\""), Code::kBadJson);
  EXPECT_EQ(code_of(std::string("{\"type\":\"p\0ng\"", 15)), Code::kBadJson);
  EXPECT_EQ(code_of("\xff\xfe{}"), Code::kBadJson);
}

TEST(Control, UnknownOrMissingTypeIsUnknownType) {
  EXPECT_EQ(code_of("{}"), Code::kUnknownType);
  EXPECT_EQ(code_of(R"({"type":3})"), Code::kUnknownType);
  EXPECT_EQ(code_of(R"({"type":"dance"})"), Code::kUnknownType);
  EXPECT_EQ(code_of(R"({"type":"CONFIG"})"), Code::kUnknownType);
}

TEST(Control, BadFieldsNameTheField) {
  const std::string ok = R"("format":"pcm_s16le")";
  EXPECT_EQ(code_of(R"({"type":"config","format":"pcm_s16le"})"), Code::kBadField);
  EXPECT_NE(message_of(R"({"type":"config","format":"pcm_s16le"})").find("sample_rate"),
            std::string::npos);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":"16000",)" + ok + "}"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000.5,)" + ok + "}"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":100,)" + ok + "}"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":18446744073709551615,)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"format":"mp3"})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"channels":3,)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"block_ms":0,)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"f0_method":"crepe",)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"speaker":-1,)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"model":5,)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"config","sample_rate":16000,"params":[],)" + ok + "}"),
            Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set"})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"pitch":25}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"pitch":"up"}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"formant":13}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"index_rate":1.5}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"output_gain_db":31}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"ptich":1}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"noise_suppression":"loud"}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"noise_suppression":3}})"), Code::kBadField);
  EXPECT_EQ(code_of(R"({"type":"set","params":{"noise_suppression":null}})"), Code::kBadField);
  const std::string ns = message_of(R"({"type":"set","params":{"noise_suppression":"High"}})");
  EXPECT_NE(ns.find("params.noise_suppression"), std::string::npos) << ns;
  EXPECT_NE(ns.find("very_high"), std::string::npos) << ns;
  EXPECT_NE(ns.find("'High'"), std::string::npos) << ns;
  EXPECT_EQ(ns.find('\n'), std::string::npos) << ns;
  const ControlMessage set =
      parse_control(R"({"type":"set","params":{"noise_suppression":"moderate"}})");
  pipeline::StreamParams q;
  q.pitch_semitones = 3;
  set.params.apply_to(&q);
  EXPECT_EQ(q.noise_suppression, dsp::NoiseLevel::kModerate);
  EXPECT_EQ(q.pitch_semitones, 3);  // only the keys given change
  EXPECT_NE(message_of(R"({"type":"set","params":{"pitch":40}})").find("params.pitch"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"type":"set","params":{"ptich":1}})").find("ptich"), std::string::npos);
}

TEST(Control, ModelNamesArePlainNamesOnly) {
  for (const char* bad : {"../x", "a/b", "/etc/passwd", ".hidden", "a\\\\b", "..", "x/../../y"}) {
    const std::string text =
        std::string(R"({"type":"config","sample_rate":16000,"format":"pcm_s16le","model":")") +
        bad + "\"}";
    EXPECT_EQ(code_of(text), Code::kBadModelName) << bad;
  }
  EXPECT_EQ(
      code_of(R"({"type":"config","sample_rate":16000,"format":"pcm_s16le","model":"a\u0000b"})"),
      Code::kBadModelName);
}

TEST(Control, ErrorMessagesDoNotEchoHugeInput) {
  const std::string big = "{\"type\":\"" + std::string(100000, 'x') + "\"}";
  EXPECT_LT(message_of(big).size(), 300u);
  EXPECT_LT(message_of(std::string(100000, '{')).size(), 300u);
}

TEST(Control, RepliesQuotingNonUtf8BytesStillSerialise) {
  // Found by fuzz_ws_control: a message quoting invalid UTF-8 made json::dump() throw.
  const std::string bad = "{\"type\"\x9d:\"ping\"}";
  const std::string wire = to_wire(error_json(code_of(bad), message_of(bad)));
  EXPECT_NE(wire.find("bad_json"), std::string::npos);
  const std::string name = "model '\xff\xfe'";
  EXPECT_NO_THROW(to_wire(error_json(Code::kModelNotFound, name)));
  EXPECT_NE(to_wire(error_json(Code::kModelNotFound, name)).find("\xef\xbf\xbd"),
            std::string::npos);
}

TEST(Control, IdIsRecoveredFromBadMessages) {
  EXPECT_EQ(try_extract_id(R"({"type":"set","id":42,"params":{"pitch":99}})"), json(42));
  EXPECT_TRUE(try_extract_id("{").is_null());
  EXPECT_TRUE(try_extract_id("[]").is_null());
}

TEST(Control, ErrorJsonCarriesCodeFatalAndId) {
  const json e = error_json(Code::kFrameTooLarge, "big", 3);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["code"], "frame_too_large");
  EXPECT_EQ(e["fatal"], true);
  EXPECT_EQ(e["id"], 3);
  EXPECT_FALSE(error_json(Code::kBadJson, "x").contains("id"));
  EXPECT_EQ(error_json(Code::kBadJson, "x")["fatal"], false);
  // Every code has a distinct name and a close code in the WebSocket range when fatal.
  std::set<std::string> names;
  for (int c = 0; c < kCodeCount; ++c) {
    const Code code = static_cast<Code>(c);
    names.insert(code_name(code));
    if (code_fatal(code)) {
      EXPECT_GE(code_ws_close(code), 1001) << code_name(code);
      EXPECT_LE(code_ws_close(code), 1014) << code_name(code);
    }
    EXPECT_GE(code_http_status(code), 400);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kCodeCount));
}

TEST(Audio, S16DecodeEncodeRoundTrip) {
  const std::vector<float> x = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f};
  std::string bytes;
  encode_audio(x.data(), x.size(), AudioFormat::kS16, &bytes);
  ASSERT_EQ(bytes.size(), 12u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[2]), 0x00);  // 0.5 -> 16384 = 0x4000, little-endian
  EXPECT_EQ(static_cast<uint8_t>(bytes[3]), 0x40);
  std::vector<float> y;
  decode_audio(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), AudioFormat::kS16, 1,
               &y);
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], x[i], 1.0 / 32768) << i;
}

TEST(Audio, F32RoundTripIsExactAndClampsNonFinite) {
  const std::vector<float> x = {0.1f, -0.3f, 2.0f, NAN, INFINITY};
  std::string bytes;
  encode_audio(x.data(), x.size(), AudioFormat::kF32, &bytes);
  ASSERT_EQ(bytes.size(), 20u);
  std::vector<float> y;
  decode_audio(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), AudioFormat::kF32, 1,
               &y);
  ASSERT_EQ(y.size(), 5u);
  EXPECT_EQ(y[0], 0.1f);
  EXPECT_EQ(y[1], -0.3f);
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_EQ(y[4], 0.0f);
  // Non-finite floats sent by a client decode as silence.
  const float bad[2] = {NAN, 0.5f};
  y.clear();
  decode_audio(reinterpret_cast<const uint8_t*>(bad), sizeof(bad), AudioFormat::kF32, 1, &y);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.5f);
}

TEST(Audio, StereoIsMixedDown) {
  const int16_t lr[4] = {16384, 0, -16384, -16384};
  std::vector<float> y;
  decode_audio(reinterpret_cast<const uint8_t*>(lr), sizeof(lr), AudioFormat::kS16, 2, &y);
  ASSERT_EQ(y.size(), 2u);
  EXPECT_FLOAT_EQ(y[0], 0.25f);
  EXPECT_FLOAT_EQ(y[1], -0.5f);
}

TEST(Audio, OddByteCountsAreBadAudioLength) {
  const uint8_t b[8] = {};
  std::vector<float> y;
  for (const auto& [n, f, ch] : {std::tuple{3, AudioFormat::kS16, 1},
                                 {2, AudioFormat::kS16, 2},
                                 {6, AudioFormat::kF32, 1},
                                 {4, AudioFormat::kF32, 2}}) {
    try {
      decode_audio(b, static_cast<size_t>(n), f, ch, &y);
      ADD_FAILURE() << n << " bytes accepted";
    } catch (const ProtocolError& e) {
      EXPECT_EQ(e.code(), Code::kBadAudioLength);
    }
  }
  EXPECT_TRUE(y.empty());
  decode_audio(b, 0, AudioFormat::kS16, 1, &y);  // empty is fine
  EXPECT_TRUE(y.empty());
}

TEST(BlockQueue, ReblocksArbitraryChunks) {
  BlockQueue q;
  std::vector<float> all;
  std::vector<float> got;
  float v = 0;
  const size_t block = 7;
  for (size_t chunk : {1u, 3u, 13u, 0u, 7u, 20u, 2u}) {
    std::vector<float> c(chunk);
    for (auto& s : c) s = v++;
    all.insert(all.end(), c.begin(), c.end());
    q.push(c.data(), c.size());
    std::vector<float> b(block);
    while (q.pop(b.data(), block)) got.insert(got.end(), b.begin(), b.end());
    EXPECT_LT(q.size(), block);
  }
  ASSERT_EQ(got.size() + q.size(), all.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], all[i]);
  std::vector<float> b(block);
  EXPECT_FALSE(q.pop(b.data(), block));
  q.push_silence(block - q.size());
  ASSERT_TRUE(q.pop(b.data(), block));
  EXPECT_EQ(b.back(), 0.0f);
  EXPECT_EQ(q.size(), 0u);
}

TEST(RateLimiter, AllowsTheRateAndRefills) {
  RateLimiter r(10);
  int ok = 0;
  for (int i = 0; i < 20; ++i) ok += r.allow(0.0) ? 1 : 0;
  EXPECT_EQ(ok, 10);
  EXPECT_FALSE(r.allow(0.05));  // half a token
  EXPECT_TRUE(r.allow(0.1));
  ok = 0;
  for (int i = 0; i < 20; ++i) ok += r.allow(10.0) ? 1 : 0;
  EXPECT_EQ(ok, 10);           // capped at one second's worth
  EXPECT_FALSE(r.allow(9.0));  // time going backwards gives nothing
  RateLimiter off(0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.allow(0.0));
}

TEST(Token, ComparesWholeStrings) {
  EXPECT_TRUE(token_equal("secret", "secret"));
  EXPECT_FALSE(token_equal("secreT", "secret"));
  EXPECT_FALSE(token_equal("secret", "secret2"));
  EXPECT_FALSE(token_equal("", "secret"));
  EXPECT_FALSE(token_equal(std::string_view("secret\0", 7), "secret"));
}

}  // namespace
}  // namespace rvc::server
