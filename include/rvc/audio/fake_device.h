// rvc/audio/fake_device.h: a Device for tests, driven by the test itself.
//
// start() only remembers the callback; each run_period() call plays one period on the calling
// thread (which acts as the audio thread), optionally flagging a driver xrun, so a test can run
// the exact live callback path deterministically or with any timing it likes.
#pragma once

#include <cstdint>
#include <string>

#include "rvc/audio/device.h"

namespace rvc::audio {

class FakeDevice final : public Device {
 public:
  // Throws rvc::Error on a non-positive rate or period.
  FakeDevice(int sample_rate, int64_t buffer_frames);

  std::string describe() const override;
  int sample_rate() const override { return sample_rate_; }
  int64_t buffer_frames() const override { return period_; }
  void start(AudioCallback* cb) override { cb_ = cb; }
  void stop() override { cb_ = nullptr; }
  bool wait_finished(double) override { return cb_ == nullptr; }
  uint64_t xruns() const override { return xruns_; }

  // Plays one period: in and out hold buffer_frames() samples. Throws rvc::Error when not started.
  void run_period(const float* in, float* out, CallbackStatus status = {});
  // Calls the callback's wait_ready(buffer_frames()) (what a clock-less device does).
  bool wait_ready();

 private:
  int sample_rate_ = 0;
  int64_t period_ = 0;
  AudioCallback* cb_ = nullptr;
  uint64_t xruns_ = 0;
};

}  // namespace rvc::audio
