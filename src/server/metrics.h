// src/server/metrics.h: server-wide counters for /metrics (Prometheus text format 0.0.4).
// Every method is thread-safe and lock-free (atomics); render() reads a consistent-enough view.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "rvc/server/protocol.h"

namespace rvc::server {

enum class Transport { kWs = 0, kTcp = 1 };
const char* transport_name(Transport t);

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

  void session_opened(Transport t);
  void session_closed(Transport t);
  void audio_in(int64_t frames, int sample_rate);
  void audio_out(int64_t frames, int sample_rate);
  // One block's compute time; overrun when it took longer than the block lasts.
  void block(double seconds, bool overrun);
  void error(Code c);
  int64_t sessions_active() const;

  std::string render(int models_loaded, bool ready) const;

 private:
  std::atomic<int64_t> active_[2] = {}, total_[2] = {};
  std::atomic<double> in_s_{0.0}, out_s_{0.0}, compute_sum_s_{0.0};
  std::atomic<uint64_t> bucket_[kBuckets.size() + 1] = {};
  std::atomic<uint64_t> blocks_{0}, overruns_{0};
  std::atomic<uint64_t> errors_[kCodeCount] = {};
};

}  // namespace rvc::server
