// rvc-rt devices / stream through PortAudio against a real audio server: Debian's jackd2 with its
// dummy driver (no sound hardware, no realtime privileges), started by the test under a unique
// server name (JACK_DEFAULT_SERVER, so parallel tests never share a server). Checks that the
// JACK host API and its ports are listed, that a live stream with the built-in voice runs for a
// set time and stops cleanly with its summary, that a rate the server does not run at is refused
// with one clear line, and that killing the server mid-stream gives a message and a clean stop
// (exit 3). Skipped when jackd is not installed (scripts/setup installs jackd2).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/cli.h"
#include "support/fixtures.h"

extern char** environ;

namespace rvc {
namespace {

namespace fs = std::filesystem;
using test::q;

constexpr int kRate = 48000;

bool have_jackd() { return fs::exists("/usr/bin/jackd") && fs::exists("/usr/bin/jack_wait"); }

// "  audio 2.90 s in 3.01 s wall (...), 29 blocks" -> 29; -1 if absent.
long long summary_blocks(const std::string& log) {
  const size_t a = log.find("real time), ");
  return a == std::string::npos ? -1 : std::atoll(log.c_str() + a + 12);
}

class JackStream : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_jackd()) GTEST_SKIP() << "jackd2 not installed (bash scripts/setup installs it)";
    dir_ = test::make_temp_dir("rvc_jack");
    static std::atomic<int> counter{0};
    server_ = "rvc_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    ::setenv("JACK_DEFAULT_SERVER", server_.c_str(), 1);
    ::setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);  // no D-Bus device reservation
    start_jackd();
  }
  void TearDown() override {
    stop_jackd();
    ::unsetenv("JACK_DEFAULT_SERVER");
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // jackd -n NAME --no-realtime -d dummy: a 48 kHz server with 2 capture and 2 playback ports
  // driven by a timer. Waits until a client can connect.
  void start_jackd() {
    // A server killed with SIGKILL (ServerGoneMidStream) leaves its entry in JACK's shared
    // registry, which holds only a few servers: after some runs every new jackd fails with "Too
    // many servers already active". When no jackd runs at all, every entry is stale: clear them.
    std::string ignored;
    if (test::run_command("pgrep -x jackd", &ignored, true) != 0) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
        const std::string name = e.path().filename().string();
        if (name == "jack-shm-registry" || name.rfind("jack_", 0) == 0) {
          std::filesystem::remove(e.path(), ec);
        }
      }
    }
    const std::string log = (dir_ / "jackd.log").string();
    std::vector<std::string> args = {"jackd", "-n",    server_, "--no-realtime",
                                     "-d",    "dummy", "-r",    std::to_string(kRate),
                                     "-p",    "256",   "-C",    "2",
                                     "-P",    "2"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&jackd_, "/usr/bin/jackd", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ASSERT_EQ(rc, 0) << "cannot start jackd";
    std::string out;
    const int wait_rc = test::run_command("jack_wait -w -t 15", &out, true);
    ASSERT_EQ(wait_rc, 0) << "jackd did not come up: " << out;
  }

  void stop_jackd() {
    if (jackd_ <= 0) return;
    ::kill(jackd_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && ::waitpid(jackd_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (::waitpid(jackd_, &status, WNOHANG) == 0) {
      ::kill(jackd_, SIGKILL);
      ::waitpid(jackd_, &status, 0);
    }
    jackd_ = 0;
  }

  // rvc-rt under a hard time limit, so a hang fails the test instead of stalling CI.
  int rvc(const std::string& args, std::string* out, int limit_s = 60) {
    return test::run_command(
        "timeout -s KILL " + std::to_string(limit_s) + " " + q(test::rvc_rt_bin()) + " " + args,
        out, true);
  }

  fs::path dir_;
  std::string server_;
  pid_t jackd_ = 0;
};

TEST_F(JackStream, DevicesListsTheJackHostApiAndItsPorts) {
  std::string log;
  ASSERT_EQ(rvc("devices", &log), 0) << log;
  EXPECT_NE(log.find("JACK Audio Connection Kit"), std::string::npos) << log;
  // The dummy server's system ports: one device with 2 inputs and 2 outputs at the server rate.
  bool found = false;
  size_t pos = 0;
  while ((pos = log.find('\n', pos)) != std::string::npos) {
    const size_t end = log.find('\n', pos + 1);
    const std::string line = log.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
    if (line.find("JACK") != std::string::npos && line.find("system") != std::string::npos) {
      found = line.find("   2    2    48000") != std::string::npos;
    }
    ++pos;
  }
  EXPECT_TRUE(found) << "a JACK 'system' device with 2 in, 2 out at 48000 Hz\n" << log;
}

TEST_F(JackStream, BuiltinVoiceRunsForTheGivenTimeAndStopsCleanly) {
  std::string log;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(rvc("stream --input system --output system --duration 3 --pitch 3 --quiet", &log), 0)
      << log;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(log.find("rvc-rt stream: live audio"), std::string::npos) << log;
  EXPECT_NE(log.find("JACK"), std::string::npos) << "device line names the host API\n" << log;
  EXPECT_NE(log.find("48000 Hz"), std::string::npos) << log;
  EXPECT_NE(log.find("summary:"), std::string::npos) << log;
  EXPECT_NE(log.find("xruns "), std::string::npos) << "xruns are counted and shown\n" << log;
  EXPECT_NE(log.find("latency: algorithmic"), std::string::npos) << log;
  // 3 s of 100 ms blocks, the clock being the dummy driver's timer.
  const long long blocks = summary_blocks(log);
  EXPECT_GE(blocks, 20) << log;
  EXPECT_LE(blocks, 40) << log;
  EXPECT_LT(wall, 20.0) << "the stream stops after --duration";
}

TEST_F(JackStream, UnsupportedRateIsRefusedWithOneLine) {
  std::string log;
  EXPECT_EQ(rvc("stream --input system --output system --sample-rate 44100 --duration 1", &log), 2)
      << log;
  EXPECT_NE(log.find("rvc-rt: error:"), std::string::npos) << log;
  EXPECT_NE(log.find("44100"), std::string::npos) << log;
  EXPECT_NE(log.find("--sample-rate"), std::string::npos) << "says what to do\n" << log;
  EXPECT_EQ(log.find("summary:"), std::string::npos) << log;
}

TEST_F(JackStream, ServerGoneMidStreamStopsWithAMessage) {
  std::string log;
  std::thread killer([this] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ::kill(jackd_, SIGKILL);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = rvc("stream --input system --output system --duration 60 --quiet", &log, 40);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  killer.join();
  int status = 0;
  ::waitpid(jackd_, &status, 0);
  jackd_ = 0;
  EXPECT_EQ(rc, 3) << "exit 3 = the device went away\n" << log;
  EXPECT_LT(wall, 30.0) << "stopped soon after the server died, not at --duration\n" << log;
  EXPECT_NE(log.find("summary:"), std::string::npos) << log;
  EXPECT_NE(log.find("audio device stopped"), std::string::npos) << log;
}

}  // namespace
}  // namespace rvc
