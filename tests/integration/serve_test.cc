// rvc-rt serve + rvc-rt client end to end, as a user runs them: a real server process on
// ephemeral ports. Round trips over WebSocket and TCP (pitch moved as asked, identical to the
// file-device stream), concurrent sessions with different pitch, an RVC fixture voice, the HTTP
// endpoints, auth, max-sessions and SIGTERM. Bad input is in serve_errors_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "rvc/formats/audio_file.h"
#include "serve_fixture.h"
#include "support/audio_checks.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::q;

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("rvc_serve");
    sample_ = fs::path(RVC_SOURCE_DIR) / "assets" / "sample.wav";
    ASSERT_TRUE(fs::exists(sample_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  int client(const std::string& args, std::string* out) {
    return test::run_command(q(test::rvc_rt_bin()) + " client " + args, out, true);
  }
  std::string ws_url(const test::ServerProcess& s, const std::string& query = "") {
    return "ws://127.0.0.1:" + std::to_string(s.http_port) + "/ws" + query;
  }
  std::string tcp_addr(const test::ServerProcess& s) {
    return "127.0.0.1:" + std::to_string(s.tcp_port);
  }

  fs::path dir_, sample_;
};

TEST_F(Serve, RoundTripOverWebSocketAndTcpMovesThePitch) {
  test::ServerProcess s(dir_, "");
  ASSERT_TRUE(s.running()) << s.log();
  const fs::path ws_out = dir_ / "ws.wav", tcp_out = dir_ / "tcp.wav";
  std::string log;
  ASSERT_EQ(
      client(q(sample_) + " -o " + q(ws_out) + " --url " + ws_url(s) + " --pitch 5 --fast", &log),
      0)
      << log;
  EXPECT_NE(log.find("added latency p50"), std::string::npos) << log;
  EXPECT_NE(log.find("x real time"), std::string::npos) << log;
  ASSERT_EQ(client(q(sample_) + " -o " + q(tcp_out) + " --tcp " + tcp_addr(s) +
                       " --pitch 5 --fast --format pcm_f32le",
                   &log),
            0)
      << log;
  const auto x = formats::read_audio_mono(sample_.string());
  const auto a = formats::read_audio_mono(ws_out.string());
  const auto b = formats::read_audio_mono(tcp_out.string());
  ASSERT_EQ(a.samples.size(), x.samples.size());
  ASSERT_EQ(b.samples.size(), x.samples.size());
  EXPECT_NEAR(test::median_f0_ratio(x.samples, a.samples, x.sample_rate), std::pow(2.0, 5 / 12.0),
              0.04);
  // Same stream state machine behind both transports: the same samples (s16 vs f32 on the wire).
  double max_diff = 0;
  for (size_t i = 0; i < a.samples.size(); ++i) {
    max_diff = std::max(max_diff, double(std::abs(a.samples[i] - b.samples[i])));
  }
  EXPECT_LT(max_diff, 3.0 / 32768);
}

TEST_F(Serve, EqualsTheFileDeviceStream) {
  test::ServerProcess s(dir_, "");
  ASSERT_TRUE(s.running()) << s.log();
  const fs::path c_out = dir_ / "client.wav", s_out = dir_ / "stream.wav";
  std::string log;
  ASSERT_EQ(client(q(sample_) + " -o " + q(c_out) + " --tcp " + tcp_addr(s) +
                       " --pitch 3 --format pcm_f32le --fast",
                   &log),
            0)
      << log;
  ASSERT_EQ(test::run_command(q(test::rvc_rt_bin()) + " stream --input-file " + q(sample_) +
                                  " --output-file " + q(s_out) + " --pitch 3",
                              &log, true),
            0)
      << log;
  const auto c = formats::read_audio_mono(c_out.string()).samples;
  const auto st = formats::read_audio_mono(s_out.string()).samples;
  ASSERT_GT(st.size(), c.size());
  // The file device's output also holds its buffering; find that offset, then compare.
  const size_t n = c.size() - c.size() / 10;
  double best = 1e9;
  for (size_t d = 0; d + n <= st.size(); ++d) {
    double m = 0;
    for (size_t i = 0; i < n && m < best; ++i) m = std::max(m, double(std::abs(c[i] - st[i + d])));
    best = std::min(best, m);
  }
  EXPECT_LT(best, 3.0 / 32768) << "no offset makes the server's output equal the stream's";
}

TEST_F(Serve, ConcurrentSessionsKeepTheirOwnPitch) {
  test::ServerProcess s(dir_, "");
  ASSERT_TRUE(s.running()) << s.log();
  const fs::path up = dir_ / "up.wav", down = dir_ / "down.wav";
  const std::string bin = q(test::rvc_rt_bin());
  std::string log;
  ASSERT_EQ(test::run_command("(" + bin + " client " + q(sample_) + " -o " + q(up) + " --url " +
                                  ws_url(s) + " --pitch 4 --realtime & " + bin + " client " +
                                  q(sample_) + " -o " + q(down) + " --tcp " + tcp_addr(s) +
                                  " --pitch -4 --realtime; st=$?; wait $! && exit $st)",
                              &log, true),
            0)
      << log;
  const auto x = formats::read_audio_mono(sample_.string());
  EXPECT_NEAR(test::median_f0_ratio(x.samples, formats::read_audio_mono(up.string()).samples,
                                    x.sample_rate),
              std::pow(2.0, 4 / 12.0), 0.04);
  EXPECT_NEAR(test::median_f0_ratio(x.samples, formats::read_audio_mono(down.string()).samples,
                                    x.sample_rate),
              std::pow(2.0, -4 / 12.0), 0.04);
  const auto m = test::http_request(s.http_port, "GET", "/metrics");
  EXPECT_NE(m.body.find("rvc_sessions_total{transport=\"ws\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("rvc_sessions_total{transport=\"tcp\"} 1"), std::string::npos);
}

TEST_F(Serve, HttpEndpoints) {
  fs::create_directories(dir_ / "web" / "js");
  std::ofstream(dir_ / "web" / "index.html") << "<p>hello</p>";
  std::ofstream(dir_ / "web" / "js" / "app.js") << "let x = 1;";
  std::ofstream(dir_ / "secret.txt") << "secret";
  fs::create_directories(dir_ / "models");
  test::ServerProcess s(dir_,
                        "--web-root " + q(dir_ / "web") + " --models-dir " + q(dir_ / "models"));
  ASSERT_TRUE(s.running()) << s.log();
  const auto h = test::http_request(s.http_port, "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["status"], "ok");
  int ready = 0;
  for (int i = 0; i < 300 && ready != 200; ++i) {
    ready = test::http_request(s.http_port, "GET", "/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready, 200);

  // A live session shows in /api/sessions.
  test::RawSocket t(s.tcp_port);
  ASSERT_TRUE(t.send_json(test::config_msg(16000)));
  ASSERT_EQ(t.next_json()["type"], "ready");
  ASSERT_TRUE(t.send_frame(server::FrameType::kAudio, std::string(3200, '\0')));
  const auto ss = json::parse(test::http_request(s.http_port, "GET", "/api/sessions").body);
  ASSERT_EQ(ss["sessions"].size(), 1u) << ss.dump();
  EXPECT_EQ(ss["sessions"][0]["transport"], "tcp");
  EXPECT_EQ(ss["sessions"][0]["state"], "running");
  EXPECT_EQ(ss["sessions"][0]["sample_rate"], 16000);

  const auto m = test::http_request(s.http_port, "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  for (const char* k :
       {"rvc_sessions_active{transport=\"tcp\"} 1", "rvc_audio_in_seconds_total",
        "rvc_block_compute_seconds_bucket{le=\"+Inf\"}", "rvc_block_overruns_total",
        "rvc_errors_total{code=\"bad_json\"} 0", "rvc_models_loaded 0", "rvc_ready 1"}) {
    EXPECT_NE(m.body.find(k), std::string::npos) << k << "\n" << m.body;
  }
  const auto models = json::parse(test::http_request(s.http_port, "GET", "/api/models").body);
  EXPECT_TRUE(models["models"].empty());
  EXPECT_EQ(test::http_request(s.http_port, "POST", "/api/models/..%2Fx/load").status, 400);
  EXPECT_EQ(test::http_request(s.http_port, "POST", "/api/models/nosuch/load").status, 404);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/api/models/nosuch/load").status, 405);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/api/nothing").status, 404);

  const auto idx = test::http_request(s.http_port, "GET", "/");
  EXPECT_EQ(idx.status, 200);
  EXPECT_EQ(idx.body, "<p>hello</p>");
  EXPECT_NE(idx.headers.find("text/html"), std::string::npos);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/js/app.js").body, "let x = 1;");
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/../secret.txt").status, 404);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/missing.html").status, 404);
  EXPECT_EQ(test::http_request(s.http_port, "DELETE", "/").status, 405);
}

TEST_F(Serve, TokenIsRequiredAndChecked) {
  test::ServerProcess s(dir_, "", "RVC_API_TOKEN=s3cret");
  ASSERT_TRUE(s.running()) << s.log();
  const fs::path out = dir_ / "o.wav";
  std::string log;
  EXPECT_NE(client(q(sample_) + " -o " + q(out) + " --url " + ws_url(s), &log), 0);
  EXPECT_NE(log.find("401"), std::string::npos) << log;
  EXPECT_NE(client(q(sample_) + " -o " + q(out) + " --url " + ws_url(s) + " --token wrong", &log),
            0);
  EXPECT_EQ(
      client(q(sample_) + " -o " + q(out) + " --url " + ws_url(s) + " --token s3cret --fast", &log),
      0)
      << log;
  EXPECT_EQ(
      client(q(sample_) + " -o " + q(out) + " --url " + ws_url(s, "?token=s3cret") + " --fast",
             &log),
      0)
      << log;
  EXPECT_EQ(
      client(q(sample_) + " -o " + q(out) + " --tcp " + tcp_addr(s) + " --token s3cret --fast",
             &log),
      0)
      << log;
  EXPECT_NE(client(q(sample_) + " -o " + q(out) + " --tcp " + tcp_addr(s) + " --token nope", &log),
            0);
  EXPECT_NE(log.find("unauthorized"), std::string::npos) << log;

  const auto m = test::http_request(s.http_port, "GET", "/metrics");
  EXPECT_EQ(m.status, 401);
  EXPECT_EQ(json::parse(m.body)["code"], "unauthorized");
  EXPECT_EQ(
      test::http_request(s.http_port, "GET", "/metrics", "Authorization: Bearer s3cret\r\n").status,
      200);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/api/sessions?token=s3cret").status, 200);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/api/sessions?token=s3cre").status, 401);
  EXPECT_EQ(test::http_request(s.http_port, "GET", "/healthz").status, 200);

  // TCP: anything before a config with the right token is refused.
  test::RawSocket t(s.tcp_port);
  ASSERT_TRUE(t.send_json({{"type", "ping"}}));
  const json e = t.next_json();
  EXPECT_EQ(e["code"], "unauthorized") << e.dump();
  EXPECT_TRUE(t.closed_by_peer());
}

TEST_F(Serve, NonLoopbackBindNeedsAToken) {
  std::string log;
  EXPECT_EQ(test::run_command(q(test::rvc_rt_bin()) + " serve --host 0.0.0.0 --port 0", &log, true),
            2);
  EXPECT_NE(log.find("api-token"), std::string::npos) << log;
  EXPECT_EQ(test::run_command(q(test::rvc_rt_bin()) + " serve --max-sessions 0", &log, true), 2);
  EXPECT_NE(log.find("max-sessions"), std::string::npos) << log;
}

TEST_F(Serve, MaxSessionsAndRecovery) {
  test::ServerProcess s(dir_, "--max-sessions 1");
  ASSERT_TRUE(s.running()) << s.log();
  {
    test::RawSocket a(s.tcp_port);
    ASSERT_TRUE(a.send_json(test::config_msg(16000)));
    ASSERT_EQ(a.next_json()["type"], "ready");
    test::RawSocket b(s.tcp_port);
    EXPECT_EQ(b.next_json()["code"], "server_busy");
    std::string log;
    EXPECT_NE(client(q(sample_) + " -o " + q(dir_ / "o.wav") + " --url " + ws_url(s), &log), 0);
    EXPECT_NE(log.find("503"), std::string::npos) << log;
  }
  // The slot comes back when the session ends.
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    test::RawSocket c(s.tcp_port);
    c.send_json(test::config_msg(16000));
    ok = c.next_json()["type"] == "ready";
    if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(ok);
}

TEST_F(Serve, SigtermDrainsSessionsAndExitsZero) {
  test::ServerProcess s(dir_, "");
  ASSERT_TRUE(s.running()) << s.log();
  test::RawSocket t(s.tcp_port);
  ASSERT_TRUE(t.send_json(test::config_msg(16000)));
  const json ready = t.next_json();
  ASSERT_EQ(ready["type"], "ready");
  const size_t block_bytes = 2 * ready["block_frames"].get<size_t>();
  ASSERT_TRUE(t.send_frame(server::FrameType::kAudio, std::string(3 * block_bytes, '\0')));
  // Wait for the three blocks, so they are not still in flight.
  size_t audio = 0;
  while (audio < 3 * block_bytes) {
    uint8_t type;
    std::string payload;
    ASSERT_TRUE(t.read_frame(&type, &payload));
    if (type == 1) audio += payload.size();
  }
  ASSERT_EQ(s.stop(SIGTERM), 0) << s.log();
  const json e = t.next_json();
  EXPECT_EQ(e["code"], "shutting_down") << e.dump();
  EXPECT_TRUE(t.closed_by_peer());
  EXPECT_NE(s.log().find("stopped"), std::string::npos);
}

TEST_F(Serve, RvcFixtureVoiceSession) {
  const auto cases = test::cases_of_kind("pipeline");
  const auto rmvpe = test::cases_of_kind("rmvpe");
  if (cases.empty() || rmvpe.empty()) GTEST_SKIP() << "no pipeline/rmvpe fixture case";
  const test::Case& c = cases.front();
  const auto& files = c.manifest.at("files");
  const fs::path models = dir_ / "models";
  fs::create_directories(models);
  fs::create_symlink(fs::absolute(c.file(files.at("model").at("file"))), models / "voice.pth");
  fs::create_symlink(fs::absolute(c.file(files.at("hubert").at("file"))),
                     models / "hubert_base.pt");
  fs::create_symlink(
      fs::absolute(rmvpe.front().file(rmvpe.front().manifest.at("files").at("rmvpe").at("file"))),
      models / "rmvpe.pt");
  test::ServerProcess s(dir_, "--models-dir " + q(models) + " --preload voice");
  ASSERT_TRUE(s.running()) << s.log();
  int ready = 0;
  for (int i = 0; i < 600 && ready != 200; ++i) {
    ready = test::http_request(s.http_port, "GET", "/readyz").status;
    if (ready != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ready, 200) << s.log();
  const auto list = json::parse(test::http_request(s.http_port, "GET", "/api/models").body);
  ASSERT_EQ(list["models"].size(), 1u) << list.dump();
  EXPECT_EQ(list["models"][0]["name"], "voice");
  EXPECT_EQ(list["models"][0]["loaded"], true);
  const fs::path out = dir_ / "rvc.wav";
  std::string log;
  ASSERT_EQ(client(q(sample_) + " -o " + q(out) + " --tcp " + tcp_addr(s) +
                       " --model voice --block-ms 200 --fast",
                   &log),
            0)
      << log << s.log();
  const auto y = formats::read_audio_mono(out.string()).samples;
  double e = 0;
  for (float v : y) e += double(v) * v;
  EXPECT_GT(std::sqrt(e / double(y.size())), 1e-3) << "the RVC session produced silence";
  EXPECT_EQ(test::http_request(s.http_port, "POST", "/api/models/voice/unload").status, 200);
  EXPECT_NE(test::http_request(s.http_port, "GET", "/metrics").body.find("rvc_models_loaded 0"),
            std::string::npos);
  EXPECT_EQ(test::http_request(s.http_port, "POST", "/api/models/voice/load").status, 200);
}

}  // namespace
}  // namespace rvc
