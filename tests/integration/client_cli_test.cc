// rvc-rt client's settings, run as a user would against a real `rvc-rt serve`: RVC_* variables
// (RVC_URL, RVC_API_TOKEN, RVC_PITCH, ...) and a --config file's [client] section reach the
// session in one precedence (flags > environment > file), a shared $RVC_CONFIG is not read, bad
// values and unknown flags give one line naming the flag, variable or file line, and --help lists
// every flag with its default.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "rvc/formats/audio_file.h"
#include "serve_fixture.h"
#include "support/audio_checks.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;
using test::q;

class ClientCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("rvc_client_cli");
    sample_ = fs::path(RVC_SOURCE_DIR) / "assets" / "sample.wav";
    ASSERT_TRUE(fs::exists(sample_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // env: "NAME=value ... " variables for this one command.
  int client(const std::string& env, const std::string& args, std::string* out) {
    out->clear();
    return test::run_command("env " + env + q(test::rvc_rt_bin()) + " client " + args, out, true);
  }
  void write_text(const fs::path& p, const std::string& text) {
    std::ofstream f(p);
    f << text;
  }
  // Median F0 ratio of the converted file to the input.
  double pitch_ratio(const fs::path& out) {
    const auto x = formats::read_audio_mono(sample_.string());
    const auto y = formats::read_audio_mono(out.string());
    EXPECT_EQ(y.samples.size(), x.samples.size());
    return test::median_f0_ratio(x.samples, y.samples, x.sample_rate);
  }

  fs::path dir_, sample_;
};

bool one_line(const std::string& log) { return !log.empty() && log.find('\n') == log.size() - 1; }

TEST_F(ClientCli, EnvironmentAndConfigFileReachTheSession) {
  test::ServerProcess s(dir_, "--api-token s3cret");
  ASSERT_TRUE(s.running()) << s.log();
  const std::string url = "ws://127.0.0.1:" + std::to_string(s.http_port) + "/ws";
  const std::string tcp = "127.0.0.1:" + std::to_string(s.tcp_port);
  // A shared config for convert/stream: the client does not read $RVC_CONFIG (it would refuse
  // index-rate), only --config FILE.
  const fs::path shared = dir_ / "shared.toml", mine = dir_ / "client.toml";
  write_text(shared, "index-rate = 0.5\n[stream]\nblock-ms = 200\n");
  write_text(mine, "[serve]\nworkers = 3\n[client]\npitch = 5\nchunk-ms = 40\n");
  const std::string env = "RVC_CONFIG=" + q(shared) + " RVC_URL=" + url +
                          " RVC_API_TOKEN=s3cret RVC_FAST=1 RVC_WIRE_FORMAT=pcm_f32le ";
  const fs::path out = dir_ / "out.wav";
  std::string log;
  ASSERT_EQ(client(env, q(sample_) + " -o " + q(out) + " --config " + q(mine), &log), 0) << log;
  EXPECT_NE(log.find("added latency p50"), std::string::npos) << log;
  const double up5 = std::pow(2.0, 5.0 / 12.0);
  EXPECT_NEAR(pitch_ratio(out), up5, 0.04 * up5) << "the config file's pitch";

  // The environment over the file, a flag over the environment: --tcp over RVC_URL.
  ASSERT_EQ(
      client(env + "RVC_PITCH=-4 RVC_REALTIME=0 ",
             q(sample_) + " --output " + q(out) + " --config " + q(mine) + " --tcp " + tcp, &log),
      0)
      << log;
  const double down4 = std::pow(2.0, -4.0 / 12.0);
  EXPECT_NEAR(pitch_ratio(out), down4, 0.04 * down4) << "RVC_PITCH over the config file";
  // RVC_REALTIME=1 against --fast: the flag wins; both on the command line is an error.
  ASSERT_EQ(client(env + "RVC_REALTIME=1 ", q(sample_) + " -o " + q(out) + " --fast", &log), 0)
      << log;
  EXPECT_EQ(client(env, q(sample_) + " -o " + q(out) + " --fast --realtime", &log), 2);
  EXPECT_NE(log.find("--realtime and --fast exclude each other"), std::string::npos) << log;
  // --token (serve's spelling too) over RVC_API_TOKEN: the server refuses the wrong one.
  EXPECT_NE(client(env, q(sample_) + " -o " + q(out) + " --token wrong", &log), 0);
  EXPECT_NE(log.find("401"), std::string::npos) << log;

  // --print-config: each value with where it came from.
  ASSERT_EQ(client(env, "--config " + q(mine) + " --print-config --pitch 2", &log), 0) << log;
  EXPECT_NE(log.find("api-token = \"s3cret\""), std::string::npos) << log;
  EXPECT_NE(log.find("environment (RVC_API_TOKEN)"), std::string::npos) << log;
  EXPECT_NE(log.find("chunk-ms = 40"), std::string::npos) << log;
  EXPECT_NE(log.find("client.toml:5: chunk-ms"), std::string::npos) << log;
  EXPECT_NE(log.find("pitch = 2 "), std::string::npos) << log;
  EXPECT_NE(log.find("wire-format = \"pcm_f32le\""), std::string::npos) << log;
}

TEST_F(ClientCli, BadSettingsNameTheirSource) {
  const std::string io = q(sample_) + " -o " + q(dir_ / "o.wav");
  std::string log;
  EXPECT_EQ(client("", io + " --pitch 40", &log), 2);
  EXPECT_NE(log.find("--pitch: expected -24..24, got 40"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(client("", io + " --format=mp3", &log), 2);
  EXPECT_NE(log.find("--format: expected pcm_s16le | pcm_f32le, got 'mp3'"), std::string::npos)
      << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(client("RVC_CHUNK_MS=0 ", io, &log), 2);
  EXPECT_NE(log.find("RVC_CHUNK_MS: expected 1..1000, got 0"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(client("RVC_FAST=maybe ", io, &log), 2);
  EXPECT_NE(log.find("RVC_FAST: expected true or false, got 'maybe'"), std::string::npos) << log;
  const fs::path cfg = dir_ / "bad.toml";
  write_text(cfg, "[client]\nblock_ms = fast\n");
  EXPECT_EQ(client("", io + " --config " + q(cfg), &log), 2);
  EXPECT_NE(log.find("bad.toml:2: block-ms: expected a number, got 'fast'"), std::string::npos)
      << log;
  EXPECT_TRUE(one_line(log)) << log;
  write_text(cfg, "output = x.wav\n");
  EXPECT_EQ(client("", io + " --config " + q(cfg), &log), 2);
  EXPECT_NE(log.find("output: unknown setting for 'rvc-rt client'"), std::string::npos) << log;

  EXPECT_EQ(client("", io + " --bogus", &log), 2);
  EXPECT_NE(log.find("unknown option '--bogus' for 'client'"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(client("", q(sample_), &log), 2);
  EXPECT_NE(log.find("-o OUT is required"), std::string::npos) << log;
  EXPECT_EQ(client("", "-o " + q(dir_ / "o.wav"), &log), 2);
  EXPECT_NE(log.find("expected one input file"), std::string::npos) << log;
  EXPECT_EQ(client("", io + " --url ws://127.0.0.1:1/ws --tcp 127.0.0.1:1", &log), 2);
  EXPECT_NE(log.find("use either --url or --tcp"), std::string::npos) << log;
}

TEST_F(ClientCli, HelpListsEveryFlagWithItsDefault) {
  std::string log;
  ASSERT_EQ(client("", "--help", &log), 0) << log;
  for (const char* flag : {"-o, --output OUT", "--url URL", "--tcp HOST:PORT",
                           "--token, --api-token T", "--model NAME", "--pitch N", "--formant N",
                           "--block-ms MS", "--chunk-ms MS", "--format, --wire-format F",
                           "--realtime", "--fast", "--quiet", "--print-config", "--config FILE"}) {
    EXPECT_NE(log.find(std::string("  ") + flag), std::string::npos) << flag << "\n" << log;
  }
  EXPECT_NE(log.find("usage: rvc-rt client [options] IN"), std::string::npos) << log;
  EXPECT_NE(log.find("(default 20)"), std::string::npos) << log;
  EXPECT_NE(log.find("ws://127.0.0.1:8765/ws"), std::string::npos) << log;
  EXPECT_NE(log.find("does not read $RVC_CONFIG"), std::string::npos) << log;
}

}  // namespace
}  // namespace rvc
