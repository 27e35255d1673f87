// Bad input against a real `rvc-rt serve` (docs/protocol.md error table): every case gets its
// documented code, fatal ones close the connection, and the server keeps serving a session that
// was opened before and new ones after. Raw TCP frames, a raw WebSocket (Beast) and raw HTTP.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <thread>

#include "serve_fixture.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using nlohmann::json;
using server::FrameType;

class ServeErrors : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("rvc_serve_errors"); }
  void TearDown() override { fs::remove_all(dir_); }

  // The session opened first must be untouched by everything a test did.
  void expect_alive(test::RawSocket& s) {
    ASSERT_TRUE(s.send_json({{"type", "ping"}, {"id", "alive"}}));
    json j;
    do {
      j = s.next_json();
    } while (!j.is_null() && j["type"] != "pong");
    EXPECT_EQ(j["id"], "alive") << "the earlier session did not survive";
  }

  fs::path dir_;
};

TEST_F(ServeErrors, TcpControlErrorsAreNonFatalWithTheirCodes) {
  test::ServerProcess s(dir_, "--models-dir " + test::q(dir_));
  ASSERT_TRUE(s.running()) << s.log();
  test::RawSocket bystander(s.tcp_port);
  ASSERT_TRUE(bystander.send_json(test::config_msg(16000)));
  ASSERT_EQ(bystander.next_json()["type"], "ready");

  test::RawSocket t(s.tcp_port);
  auto expect_code = [&](const std::string& frame_payload, FrameType type, const char* code) {
    ASSERT_TRUE(t.send_frame(type, frame_payload));
    const json e = t.next_json();
    EXPECT_EQ(e["type"], "error") << frame_payload.substr(0, 80) << " -> " << e.dump();
    EXPECT_EQ(e["code"], code) << frame_payload.substr(0, 80) << " -> " << e.dump();
    EXPECT_EQ(e["fatal"], false);
  };
  expect_code(std::string(320, '\0'), FrameType::kAudio, "not_configured");
  expect_code("{\"type\":", FrameType::kControl, "bad_json");
  expect_code("[1]", FrameType::kControl, "bad_json");
  expect_code(R"({"type":"dance"})", FrameType::kControl, "unknown_type");
  expect_code(R"({"type":"config","format":"pcm_s16le"})", FrameType::kControl, "bad_field");
  expect_code(R"({"type":"config","sample_rate":16000,"format":"pcm_s16le","model":"../x"})",
              FrameType::kControl, "bad_model_name");
  expect_code(R"({"type":"config","sample_rate":16000,"format":"pcm_s16le","model":"nosuch"})",
              FrameType::kControl, "model_not_found");
  expect_code(R"({"type":"stats"})", FrameType::kControl, "not_configured");
  expect_code(R"({"type":"set","params":{"pitch":1}})", FrameType::kControl, "not_configured");

  // After all that the session can still be configured and used.
  ASSERT_TRUE(t.send_json(test::config_msg(16000, 0, "pcm_s16le")));
  const json ready = t.next_json();
  ASSERT_EQ(ready["type"], "ready") << ready.dump();
  expect_code(std::string(3, '\0'), FrameType::kAudio, "bad_audio_length");
  expect_code(test::config_msg(16000).dump(), FrameType::kControl, "already_configured");
  ASSERT_TRUE(t.send_json({{"type", "set"}, {"id", 5}, {"params", {{"pitch", 99}}}}));
  json e = t.next_json();
  EXPECT_EQ(e["code"], "bad_field");
  EXPECT_EQ(e["id"], 5);
  ASSERT_TRUE(t.send_json({{"type", "set"}, {"id", 6}, {"params", {{"pitch", 3}}}}));
  e = t.next_json();
  EXPECT_EQ(e["type"], "params");
  EXPECT_EQ(e["params"]["pitch"], 3.0);
  ASSERT_TRUE(t.send_json({{"type", "ping"}, {"id", "p"}}));
  e = t.next_json();
  EXPECT_EQ(e["type"], "pong");
  EXPECT_EQ(e["id"], "p");
  const size_t block = ready["block_frames"].get<size_t>();
  ASSERT_TRUE(t.send_frame(FrameType::kAudio, std::string(2 * block * 2 + 10, '\0')));
  ASSERT_TRUE(t.send_json({{"type", "bye"}}));
  size_t audio = 0;
  e = t.next_json(&audio);
  while (!e.is_null() && e["type"] != "bye") e = t.next_json(&audio);
  ASSERT_EQ(e["type"], "bye");
  EXPECT_EQ(e["frames_in"], 2 * block + 5);
  // Every sample sent came out, plus the latency.
  EXPECT_EQ(audio / 2, e["frames_out"].get<size_t>());
  EXPECT_GE(e["frames_out"].get<size_t>(), 2 * block + 5 + ready["latency_frames"].get<size_t>());
  EXPECT_TRUE(t.closed_by_peer());
  expect_alive(bystander);
  const auto m = test::http_request(s.http_port, "GET", "/metrics").body;
  EXPECT_NE(m.find("rvc_errors_total{code=\"bad_json\"} 2"), std::string::npos) << m;
  EXPECT_NE(m.find("rvc_errors_total{code=\"not_configured\"} 3"), std::string::npos) << m;
}

TEST_F(ServeErrors, TcpFatalFramesCloseOnlyThatConnection) {
  test::ServerProcess s(dir_, "--max-frame-bytes 65536 --max-messages-per-second 50");
  ASSERT_TRUE(s.running()) << s.log();
  test::RawSocket bystander(s.tcp_port);
  ASSERT_TRUE(bystander.send_json(test::config_msg(16000)));
  ASSERT_EQ(bystander.next_json()["type"], "ready");
  {
    test::RawSocket t(s.tcp_port);  // oversized: refused from the header alone
    ASSERT_TRUE(t.send_all(std::string("\x00\x00\x10\x00\x01", 5)));
    EXPECT_EQ(t.next_json()["code"], "frame_too_large");
    EXPECT_TRUE(t.closed_by_peer());
  }
  {
    test::RawSocket t(s.tcp_port);
    ASSERT_TRUE(t.send_all(std::string("\x02\x00\x00\x00\x07xy", 7)));
    EXPECT_EQ(t.next_json()["code"], "bad_frame");
    EXPECT_TRUE(t.closed_by_peer());
  }
  {
    test::RawSocket t(s.tcp_port);  // too many messages per second
    json e;
    for (int i = 0; i < 200; ++i) t.send_json({{"type", "ping"}});
    do {
      e = t.next_json();
    } while (!e.is_null() && e["type"] == "pong");
    EXPECT_EQ(e["code"], "rate_limited") << e.dump();
    EXPECT_TRUE(t.closed_by_peer());
  }
  for (int i = 0; i < 5; ++i) {  // abrupt disconnects mid-frame
    test::RawSocket t(s.tcp_port);
    ASSERT_TRUE(t.send_json(test::config_msg(16000)));
    t.send_all(std::string("\xe8\x03\x00\x00\x01", 5) + std::string(100, '\0'));
  }
  expect_alive(bystander);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/healthz").status, 200);
  test::RawSocket fresh(s.tcp_port);
  ASSERT_TRUE(fresh.send_json(test::config_msg(48000)));
  EXPECT_EQ(fresh.next_json()["type"], "ready");
}

TEST_F(ServeErrors, TricklingAndIdleClientsAreTimedOut) {
  test::ServerProcess s(dir_, "--idle-timeout-s 1.5 --header-timeout-s 1.5");
  ASSERT_TRUE(s.running()) << s.log();
  test::RawSocket t(s.tcp_port);
  // One byte every 300 ms of a frame that never completes in time.
  std::thread trickle([&] {
    const std::string f = server::encode_frame(FrameType::kControl, std::string(200, ' '));
    for (size_t i = 0; i < 20 && t.fd() >= 0; ++i) {
      if (!t.send_all(f.substr(i, 1))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  const json e = t.next_json();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  trickle.join();
  EXPECT_EQ(e["code"], "idle_timeout") << e.dump();
  EXPECT_LT(waited, 5.0);

  // HTTP slowloris: headers that never end get the connection closed.
  test::RawSocket h(s.http_port);
  ASSERT_TRUE(h.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
  const auto h0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(h.closed_by_peer());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count(), 5.0);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/healthz").status, 200);
}

TEST_F(ServeErrors, SlowReaderIsCutNotBuffered) {
  test::ServerProcess s(dir_, "--max-send-queue-bytes 65536");
  ASSERT_TRUE(s.running()) << s.log();
  test::RawSocket t(s.tcp_port, 20, 4096);
  ASSERT_TRUE(t.send_json(test::config_msg(48000, 0, "pcm_f32le")));
  ASSERT_EQ(t.next_json()["type"], "ready");
  // 60 s of 48 kHz float audio, never reading the answers.
  const std::string second(48000 * 4, '\0');
  for (int i = 0; i < 60; ++i) {
    if (!t.send_frame(FrameType::kAudio, second)) break;  // cut already
  }
  bool cut = false;
  for (int i = 0; i < 200 && !cut; ++i) {
    cut = test::http_request(s.http_port, "GET", "/metrics")
              .body.find("rvc_errors_total{code=\"slow_reader\"} 1") != std::string::npos;
    if (!cut) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(cut);
  EXPECT_TRUE(t.closed_by_peer());
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/healthz").status, 200);
}

TEST_F(ServeErrors, WebSocketErrors) {
  test::ServerProcess s(dir_, "--max-frame-bytes 65536");
  ASSERT_TRUE(s.running()) << s.log();
  net::io_context io;
  websocket::stream<net::ip::tcp::socket> ws(io);
  ws.next_layer().connect({net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(s.http_port)});
  timeval tv{20, 0};
  setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ws.handshake("127.0.0.1", "/ws");
  boost::beast::flat_buffer buf;
  auto next = [&]() -> json {
    buf.consume(buf.size());
    ws.read(buf);
    return json::parse(boost::beast::buffers_to_string(buf.data()), nullptr, false);
  };
  ws.text(true);
  ws.write(net::buffer(std::string("not json")));
  EXPECT_EQ(next()["code"], "bad_json");
  ws.binary(true);
  ws.write(net::buffer(std::string(64, '\0')));
  EXPECT_EQ(next()["code"], "not_configured");
  ws.text(true);
  ws.write(net::buffer(test::config_msg(16000, 2, "pcm_f32le").dump()));
  EXPECT_EQ(next()["type"], "ready");
  ws.binary(true);
  ws.write(net::buffer(std::string(6, '\0')));
  EXPECT_EQ(next()["code"], "bad_audio_length");
  // An oversized message: the WebSocket layer closes with 1009.
  boost::system::error_code ec;
  ws.write(net::buffer(std::string(100000, '\0')), ec);  // may fail: the server stops reading
  ec = {};
  for (int i = 0; i < 1000 && !ec; ++i) {
    buf.consume(buf.size());
    ws.read(buf, ec);
  }
  EXPECT_TRUE(ec) << "the connection stayed open";
  // Beast closes with 1009; the close frame can be lost to the reset of our unread write.
  if (ec == websocket::error::closed) {
    EXPECT_EQ(ws.reason().code, 1009);
  }
  EXPECT_NE(test::http_request(s.http_port, "GET", "/metrics")
                .body.find("rvc_errors_total{code=\"frame_too_large\"} 1"),
            std::string::npos);

  // Upgrades elsewhere than /ws are refused.
  const std::string upgrade =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/elsewhere", upgrade).status, 404);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace rvc
