// rvc/audio/device.h: the audio device abstraction every way of running a stream goes through.
//
// A Device drives an AudioCallback exactly as PortAudio does: from its own thread (the audio
// thread), once per period, with `frames` mono input samples and room for `frames` output
// samples. The PortAudio device, the file device and the fake device (tests) all drive the same
// callback, so file conversion, tests and live audio run the same stream code (DESIGN idea 7).
//
// Thread-safety: start()/stop()/wait_finished() from one control thread; audio() is called on
// the device's audio thread and must be real-time safe (no allocation, lock, log, exception).
#pragma once

#include <cstdint>
#include <string>

namespace rvc::audio {

// Driver-reported problems for one period (PortAudio's status flags).
struct CallbackStatus {
  bool input_overflow = false;    // the driver lost input before this period
  bool output_underflow = false;  // the driver played silence before this period
};

class AudioCallback {
 public:
  virtual ~AudioCallback() = default;
  // Real-time: consume in[0, frames), fill out[0, frames) (mono, the device's rate).
  virtual void audio(const float* in, float* out, int64_t frames, CallbackStatus status) = 0;
  // Devices with no hardware clock (the file device when not --realtime) call this before each
  // period: it blocks until the consumer can take `frames` more without dropping input or
  // running out of output. Returns false when the consumer is stopping. Never called by live
  // devices.
  virtual bool wait_ready(int64_t frames) {
    (void)frames;
    return true;
  }
};

class Device {
 public:
  virtual ~Device() = default;
  // One human line naming the device(s), rate and period.
  virtual std::string describe() const = 0;
  virtual int sample_rate() const = 0;
  // Frames per callback period.
  virtual int64_t buffer_frames() const = 0;
  // Starts calling cb (which must outlive the device's run). Throws rvc::Error (device busy,
  // rate refused...).
  virtual void start(AudioCallback* cb) = 0;
  // Stops calling the callback and releases the device; safe to call twice. May throw an error
  // the run hit (e.g. the file device cannot write its output).
  virtual void stop() = 0;
  // Blocks up to timeout_s for the device to finish on its own (a file device at the end of its
  // input). Returns true when finished; live devices never finish.
  virtual bool wait_finished(double timeout_s) = 0;
  // Driver-reported xruns (periods with an overflow or underflow flag) so far.
  virtual uint64_t xruns() const = 0;
  // The driver's own buffering (input + output), seconds; 0 when there is none.
  virtual double device_latency_s() const { return 0.0; }
};

}  // namespace rvc::audio
