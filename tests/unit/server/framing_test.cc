// TCP framing and HTTP target helpers (rvc/server/framing.h): frames split at every byte
// boundary, oversized and unknown frames rejected from the header alone, target decoding, bearer
// parsing, static paths that cannot leave the web root, the model REST route.
#include "rvc/server/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rvc/server/protocol.h"

namespace rvc::server {
namespace {

Code code_of(FrameDecoder& d, const std::string& bytes) {
  try {
    d.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const ProtocolError& e) {
    return e.code();
  }
  ADD_FAILURE() << "accepted";
  return Code::kInternal;
}

TEST(Frame, EncodesTheDocumentedHeader) {
  const std::string f = encode_frame(FrameType::kControl, "{\"type\":\"ping\"}");
  ASSERT_EQ(f.size(), 20u);
  EXPECT_EQ(f.substr(0, 5), std::string("\x0f\x00\x00\x00\x00", 5));
  EXPECT_EQ(static_cast<uint8_t>(encode_frame(FrameType::kAudio, "ab")[4]), 1);
}

TEST(Frame, DecodesAStreamSplitAtEveryBoundary) {
  std::string stream;
  const std::vector<std::pair<FrameType, std::string>> frames = {
      {FrameType::kControl, "{\"type\":\"ping\"}"},
      {FrameType::kAudio, std::string("\x01\x00\xff\x7f", 4)},
      {FrameType::kAudio, ""},
      {FrameType::kControl, std::string(3000, 'x')}};
  for (const auto& [t, p] : frames) stream += encode_frame(t, p);
  for (size_t piece : {1u, 2u, 5u, 6u, 7u, 64u, 100000u}) {
    FrameDecoder d(1 << 20);
    std::vector<std::pair<FrameType, std::string>> got;
    for (size_t i = 0; i < stream.size(); i += piece) {
      const size_t n = std::min(piece, stream.size() - i);
      size_t pos = 0;
      while (pos < n) {
        pos += d.feed(reinterpret_cast<const uint8_t*>(stream.data() + i + pos), n - pos);
        if (d.ready()) {
          const FrameType t = d.type();
          got.emplace_back(t, d.take_payload());
        }
      }
    }
    EXPECT_EQ(got, frames) << "piece " << piece;
    EXPECT_EQ(d.partial_bytes(), 0u);
  }
}

TEST(Frame, PartialFrameIsReported) {
  FrameDecoder d(100);
  const std::string f = encode_frame(FrameType::kAudio, "abcdef");
  d.feed(reinterpret_cast<const uint8_t*>(f.data()), 8);
  EXPECT_FALSE(d.ready());
  EXPECT_EQ(d.partial_bytes(), 8u);
}

TEST(Frame, OversizedHeaderFailsBeforeAnyPayload) {
  FrameDecoder d(1024);
  EXPECT_EQ(code_of(d, std::string("\xff\xff\xff\xff\x01", 5)), Code::kFrameTooLarge);
  FrameDecoder d2(1024);
  EXPECT_EQ(code_of(d2, std::string("\x01\x04\x00\x00\x00", 5)), Code::kFrameTooLarge);
  FrameDecoder d3(1024);
  const std::string ok = encode_frame(FrameType::kAudio, std::string(1024, 'a'));
  d3.feed(reinterpret_cast<const uint8_t*>(ok.data()), ok.size());
  EXPECT_TRUE(d3.ready());
}

TEST(Frame, UnknownTypeIsBadFrame) {
  FrameDecoder d(1024);
  EXPECT_EQ(code_of(d, std::string("\x00\x00\x00\x00\x02", 5)), Code::kBadFrame);
  FrameDecoder d2(1024);
  EXPECT_EQ(code_of(d2, std::string("\x00\x00\x00\x00\xff", 5)), Code::kBadFrame);
}

TEST(Target, SplitsAndDecodes) {
  const auto t = parse_target("/ws?token=a%20b+c&x=1&token=second&flag");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/ws");
  EXPECT_EQ(t->query.at("token"), "a b c");
  EXPECT_EQ(t->query.at("x"), "1");
  EXPECT_EQ(t->query.at("flag"), "");
  EXPECT_EQ(parse_target("/a%2Fb")->path, "/a/b");
  EXPECT_FALSE(parse_target(""));
  EXPECT_FALSE(parse_target("http://host/x"));
  EXPECT_FALSE(parse_target("/a%2"));
  EXPECT_FALSE(parse_target("/a%zz"));
  EXPECT_FALSE(parse_target("/a%00b"));
  EXPECT_FALSE(parse_target("/x?t=%"));
}

TEST(Target, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer  abc "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(Target, StaticPathsStayInsideTheRoot) {
  EXPECT_EQ(*static_file_path("/w", "/"), std::filesystem::path("/w/index.html"));
  EXPECT_EQ(*static_file_path("/w", "/app.js"), std::filesystem::path("/w/app.js"));
  EXPECT_EQ(*static_file_path("/w", "/a//b.css"), std::filesystem::path("/w/a/b.css"));
  EXPECT_EQ(*static_file_path("/w", "/sub/"), std::filesystem::path("/w/sub/index.html"));
  for (const char* bad :
       {"/../etc/passwd", "/a/../../x", "/.git/config", "/..", "/a\\..\\b", "relative", ""}) {
    EXPECT_FALSE(static_file_path("/w", bad)) << bad;
  }
  EXPECT_STREQ(mime_type("/w/index.html"), "text/html; charset=utf-8");
  EXPECT_STREQ(mime_type("/w/app.js"), "application/javascript");
  EXPECT_STREQ(mime_type("/w/blob"), "application/octet-stream");
}

TEST(Target, ModelRoutes) {
  const auto r = match_model_route("/api/models/alice/load");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "alice");
  EXPECT_EQ(r->action, "load");
  EXPECT_EQ(match_model_route("/api/models/bob/unload")->action, "unload");
  // The name is handed on as is; the registry refuses anything that is not a plain name.
  EXPECT_EQ(match_model_route("/api/models/../x/load")->name, "../x");
  EXPECT_FALSE(match_model_route("/api/models/alice"));
  EXPECT_FALSE(match_model_route("/api/models//load"));
  EXPECT_FALSE(match_model_route("/api/models/alice/delete"));
  EXPECT_FALSE(match_model_route("/api/sessions"));
}

}  // namespace
}  // namespace rvc::server
