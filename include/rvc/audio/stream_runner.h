// rvc/audio/stream_runner.h: runs a pipeline::Stream behind a device (DESIGN idea 6).
//
// The device's audio thread calls audio(): it only pushes input into one SPSC ring, pops output
// from another and wakes the worker. The worker thread pops whole blocks, runs Stream::process
// and pushes the result. Nothing is hidden:
//  - device_xruns: periods the driver flagged (overflow / underflow);
//  - input_overrun_frames: input the audio thread could not queue (input ring full);
//  - output_underrun_frames: output the audio thread needed but the worker had not produced yet
//    (played as silence);
//  - dropped_input_frames: stale input the worker skipped because it fell behind by more than
//    one block + one period, so the input-to-output delay stays bounded.
//
// Timing: the output ring starts with prime_frames() = block + period - gcd(block, period) +
// headroom of silence: the first part is the least that lets an instant worker never underrun
// whatever the period; the headroom covers the worker's compute time on a live device (without
// it every block would arrive late by its compute time and the first underruns would add that
// much delay for good). The delay
// from device input to device output is then latency_frames() = prime_frames() +
// stream.latency_frames() - block (equal to the Stream's algorithmic latency when period ==
// block), plus the driver's own buffering.
//
// Per-block record: with keep_timings(n) before start(), the worker also notes each of the first
// n blocks' start (seconds since start()) and compute time in a table sized there, so a run can
// show where its slow blocks were (window_extremes()) or write them out.
//
// Scheduling: with set_rt_priority(n) before start(), the worker puts itself (and so the OpenMP
// team it creates) under SCHED_FIFO at n before its warm-up block, and the first audio() call
// raises the device's callback thread to n + 1 (rvc/audio/realtime.h); rt_priority_note() says
// why not when the system refused.
//
// Thread-safety: start()/stop()/stats()/timings() from a control thread; audio() and
// wait_ready() from the device thread; the Stream is used only by the worker while running.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "rvc/audio/device.h"
#include "rvc/core/spsc_ring.h"
#include "rvc/pipeline/stream.h"

namespace rvc::audio {

struct BlockTiming {
  double start_s = 0.0;     // when the worker began the block, seconds since start()
  double compute_ms = 0.0;  // Stream::process time
};

// Compute-time percentiles over one stretch of consecutive blocks.
struct WindowStats {
  double start_s = 0.0;  // first block's start
  int64_t blocks = 0;
  double p50_ms = 0.0, p99_ms = 0.0, max_ms = 0.0;
};

// The stretches of `blocks_per_window` consecutive blocks (the last, shorter one only if it is
// the only one) with the highest and the lowest median compute time: how bursty the compute
// time was. Both empty (blocks = 0) for no timings; blocks_per_window < 1 is taken as 1.
struct WindowExtremes {
  WindowStats slowest, quietest;
  int64_t windows = 0;
};
WindowExtremes window_extremes(const std::vector<BlockTiming>& t, int64_t blocks_per_window);

struct RunnerStats {
  uint64_t device_xruns = 0;
  uint64_t input_overrun_frames = 0;
  uint64_t output_underrun_frames = 0;
  uint64_t dropped_input_frames = 0;
  uint64_t blocks = 0;
  // Stream::process compute time per block, milliseconds.
  double compute_p50_ms = 0.0, compute_p99_ms = 0.0, compute_max_ms = 0.0;
};

class StreamRunner final : public AudioCallback {
 public:
  // device_frames: the device's period; headroom_frames >= 0: extra output buffering for compute
  // time. The stream must outlive the runner. Throws rvc::Error.
  StreamRunner(pipeline::Stream& stream, int64_t device_frames, int64_t headroom_frames = 0);
  ~StreamRunner() override;
  StreamRunner(const StreamRunner&) = delete;
  StreamRunner& operator=(const StreamRunner&) = delete;

  // Primes the output ring and starts the worker, and returns once the worker has run one
  // silent block (Stream::warm_up(1), which resets the stream): the first block on a thread
  // creates that thread's OpenMP team and model scratch, which made a full-size voice's first
  // live block up to a block slower and underran the output at start-up. Call before the device
  // starts.
  void start();
  // Stops and joins the worker (call after the device stopped). Safe to call twice.
  void stop();

  void audio(const float* in, float* out, int64_t frames, CallbackStatus status) override;
  bool wait_ready(int64_t frames) override;

  int64_t prime_frames() const { return prime_; }
  int64_t latency_frames() const;
  RunnerStats stats() const;
  // Keep the first `max_blocks` blocks' timings (allocates the table; before start()).
  void keep_timings(int64_t max_blocks);
  // The blocks recorded so far (all of them once stop() returned).
  std::vector<BlockTiming> timings() const;
  // SCHED_FIFO priority for the worker (n) and the audio thread (n + 1); 0 = ordinary
  // scheduling (the default). Before start(); throws rvc::Error outside 0..kMaxRtPriority - 1.
  void set_rt_priority(int priority);
  // After start(): "" when the worker runs at the priority asked for (or none was asked), else
  // the one-line reason it could not (it then runs at ordinary priority).
  const std::string& rt_priority_note() const { return rt_note_; }

 private:
  // Log-spaced compute-time buckets: bucket i >= 1 holds [1 us * 1.02^(i-1), 1 us * 1.02^i),
  // so percentiles are within 2 % from 1 us to about 1000 s.
  static constexpr int kBuckets = 1050;
  void worker();
  void record(double ms);

  pipeline::Stream& stream_;
  int64_t block_ = 0, period_ = 0, prime_ = 0;
  SpscRing in_ring_, out_ring_;
  std::vector<float> in_block_, out_block_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<uint32_t> wake_{0}, produced_{0}, warmed_{0};
  std::atomic<uint64_t> xruns_{0}, dropped_{0}, blocks_{0};
  std::array<std::atomic<uint32_t>, kBuckets + 1> hist_{};
  std::atomic<double> max_ms_{0.0};
  std::vector<BlockTiming> timings_;  // sized by keep_timings(), written by the worker
  std::atomic<size_t> n_timings_{0};  // entries published (release by the worker)
  std::chrono::steady_clock::time_point started_{};
  int rt_priority_ = 0;
  std::string rt_note_;              // written by the worker before warmed_ is released
  bool raise_audio_thread_ = false;  // the audio thread's own: set in start(), cleared on use
};

}  // namespace rvc::audio
