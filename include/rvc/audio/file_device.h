// rvc/audio/file_device.h: a Device that plays an audio file into the callback and records what
// comes out, through exactly the callback path a live device uses.
//
// The input file is read (mixed to mono) at construction; the device's rate is the file's. On
// start() a thread calls the callback with periods of buffer_frames() samples: as fast as the
// consumer allows (AudioCallback::wait_ready between periods, so no sample is lost) or, with
// realtime, paced by the wall clock like a sound card (nothing waits; the consumer may xrun).
// After the input, drain_frames of silence are played so the delayed tail comes out; the last
// period is zero-padded. stop() writes the output file: input length + drain_frames samples,
// same rate (format from the extension, 16-bit PCM for .wav).
//
// Thread-safety: as Device. output() only after stop().
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rvc/audio/device.h"

namespace rvc::audio {

struct FileDeviceConfig {
  std::string input_path;
  std::string output_path;    // empty: keep the output in memory only
  int64_t buffer_frames = 0;  // period; 0 = 10 ms of the file's rate
  bool realtime = false;      // pace periods by the wall clock
  int64_t drain_frames = 0;   // silence played after the input
};

class FileDevice final : public Device {
 public:
  // Reads the input. Throws rvc::Error naming the file on failure.
  explicit FileDevice(const FileDeviceConfig& config);
  ~FileDevice() override;

  std::string describe() const override;
  int sample_rate() const override { return sample_rate_; }
  int64_t buffer_frames() const override { return period_; }
  void start(AudioCallback* cb) override;
  void stop() override;
  bool wait_finished(double timeout_s) override;
  uint64_t xruns() const override { return 0; }

  // Changes the drain before start() (e.g. once the stream's latency is known).
  void set_drain_frames(int64_t n);
  // The input samples (zero-padded to whole periods while running).
  const std::vector<float>& input() const { return input_; }
  // What the callback produced (input length + drain); complete after stop().
  const std::vector<float>& output() const { return output_; }
  // Periods played so far (any thread).
  int64_t periods() const { return periods_.load(); }

 private:
  void run(AudioCallback* cb);

  FileDeviceConfig config_;
  int sample_rate_ = 0;
  int64_t period_ = 0, n_input_ = 0;
  std::vector<float> input_, output_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> periods_{0};
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false, written_ = false;
};

}  // namespace rvc::audio
