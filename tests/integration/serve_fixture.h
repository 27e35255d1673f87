// tests/integration/serve_fixture.h: a real `rvc-rt serve` child process on ephemeral ports,
// plus raw clients (POSIX TCP framing, HTTP/1.1, Beast WebSocket) for the serve*_test.cc files.
// Every read has a timeout so a broken server fails a test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "rvc/server/framing.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc::test {

using nlohmann::json;

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class ServerProcess {
 public:
  // Starts `rvc-rt serve --port 0 --tcp-port 0 ARGS` (stdout+stderr to log) and waits up to 60 s
  // for its "listening" line. env: "NAME=value ..." prefix for the command line.
  ServerProcess(const std::filesystem::path& dir, const std::string& args,
                const std::string& env = "") {
    log_ = dir / ("serve_" + std::to_string(++counter()) + ".log");
    const std::string cmd = "exec env " + env + " " + q(rvc_rt_bin()) +
                            " serve --port 0 --tcp-port 0 " + args + " > " + q(log_) + " 2>&1";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60)) {
      const std::string l = log();
      const size_t a = l.find("listening http=");
      if (a != std::string::npos && l.find('\n', a) != std::string::npos) {
        const size_t h = l.find(':', a);
        http_port = std::stoi(l.substr(h + 1));
        const size_t t = l.find("tcp=", a);
        const size_t tc = l.find(':', t);
        if (l.compare(t + 4, 3, "off") != 0) tcp_port = std::stoi(l.substr(tc + 1));
        return;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0 && http_port > 0; }
  std::string log() const { return read_file(log_); }
  // Sends sig and waits up to timeout_s; the exit status, or -1 (killed / still running).
  int stop(int sig = SIGTERM, double timeout_s = 30) {
    if (pid_ <= 0) return exit_status;
    kill(pid_, sig);
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(timeout_s)) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return exit_status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  int http_port = -1, tcp_port = -1, exit_status = -1;

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

// A blocking TCP socket to 127.0.0.1:port with a receive timeout.
class RawSocket {
 public:
  explicit RawSocket(int port, double timeout_s = 20, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    set_timeout(timeout_s);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawSocket() { close(); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  void set_timeout(double s) {
    timeval tv{static_cast<time_t>(s),
               static_cast<suseconds_t>((s - static_cast<time_t>(s)) * 1e6)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  bool send_all(const std::string& b) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool send_frame(server::FrameType t, const std::string& payload) {
    return send_all(server::encode_frame(t, payload));
  }
  bool send_json(const json& j) { return send_frame(server::FrameType::kControl, j.dump()); }
  // Exactly n bytes; false on EOF, error or timeout.
  bool recv_exact(size_t n, std::string* out) {
    out->resize(n);
    size_t off = 0;
    while (off < n) {
      const ssize_t k = ::recv(fd_, out->data() + off, n - off, 0);
      if (k <= 0) return false;
      off += static_cast<size_t>(k);
    }
    return true;
  }
  bool read_frame(uint8_t* type, std::string* payload) {
    std::string h;
    if (!recv_exact(5, &h)) return false;
    const uint32_t len = static_cast<uint8_t>(h[0]) | (static_cast<uint8_t>(h[1]) << 8) |
                         (static_cast<uint8_t>(h[2]) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(h[3])) << 24);
    *type = static_cast<uint8_t>(h[4]);
    return recv_exact(len, payload);
  }
  // The next control frame (audio frames are counted and skipped); null on EOF/timeout.
  json next_json(size_t* audio_bytes = nullptr) {
    uint8_t t;
    std::string p;
    while (read_frame(&t, &p)) {
      if (t == 0) return json::parse(p, nullptr, false);
      if (audio_bytes) *audio_bytes += p.size();
    }
    return nullptr;
  }
  // True when the peer closed (EOF or reset) within the timeout; skips anything before it.
  bool closed_by_peer() {
    char b[4096];
    for (;;) {
      const ssize_t k = ::recv(fd_, b, sizeof(b), 0);
      if (k == 0) return true;
      if (k < 0) return errno == ECONNRESET || errno == EPIPE;
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

struct HttpResult {
  int status = 0;
  std::string headers, body;
};

// One HTTP/1.1 request with Connection: close.
inline HttpResult http_request(int port, const std::string& method, const std::string& target,
                               const std::string& extra_headers = "") {
  RawSocket s(port);
  HttpResult r;
  if (!s.connected()) return r;
  const bool own_connection = extra_headers.find("Connection:") != std::string::npos;
  s.send_all(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
             (own_connection ? "" : "Connection: close\r\n") + extra_headers + "\r\n");
  std::string all;
  char b[4096];
  for (;;) {
    const ssize_t k = ::recv(s.fd(), b, sizeof(b), 0);
    if (k <= 0) break;
    all.append(b, static_cast<size_t>(k));
  }
  const size_t sp = all.find(' ');
  if (sp == std::string::npos) return r;
  r.status = std::stoi(all.substr(sp + 1));
  const size_t e = all.find("\r\n\r\n");
  r.headers = all.substr(0, e);
  if (e != std::string::npos) r.body = all.substr(e + 4);
  return r;
}

inline json config_msg(int sr, double pitch = 0, const std::string& fmt = "pcm_s16le") {
  return {{"type", "config"},
          {"sample_rate", sr},
          {"format", fmt},
          {"channels", 1},
          {"params", {{"pitch", pitch}}}};
}

}  // namespace rvc::test
