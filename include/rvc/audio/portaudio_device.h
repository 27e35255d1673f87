// rvc/audio/portaudio_device.h: live sound cards through PortAudio.
//
// list_audio_devices() reports host APIs and devices (works with no sound hardware: empty
// lists). PortAudioDevice opens one full-duplex stream (input device -> callback -> output
// device), mono to the callback: input channels are averaged, output is copied to every
// channel. Devices are chosen by index, by name (case-insensitive; an exact match wins, else a
// unique substring) or "default". The rate is negotiated up front: a rate either device refuses,
// a busy device or an unknown name fails in the constructor with one clear line.
//
// Thread-safety: as Device. The PortAudio callback is real-time safe (no allocation or lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "rvc/audio/device.h"

namespace rvc::audio {

struct AudioDeviceInfo {
  int index = -1;
  std::string name;
  std::string host_api;
  int max_input_channels = 0;
  int max_output_channels = 0;
  double default_sample_rate = 0.0;
  bool is_default_input = false;
  bool is_default_output = false;
};

struct AudioSystemInfo {
  std::string version;  // PortAudio's version text
  std::vector<std::string> host_apis;
  std::vector<AudioDeviceInfo> devices;
  std::string error;  // set when PortAudio could not start (the lists are then empty)
};

// Never throws.
AudioSystemInfo list_audio_devices();

struct PortAudioConfig {
  std::string input = "default";   // index, name, or "default"
  std::string output = "default";  // index, name, or "default"
  int sample_rate = 0;             // 0 = the input device's default rate
  int64_t buffer_frames = 0;       // frames per callback; 0 = 10 ms
  double latency_s = 0.0;          // suggested driver latency; 0 = the devices' low default
};

class PortAudioDevice final : public Device {
 public:
  // Resolves the devices, checks the rate and opens the stream (not started). Throws rvc::Error.
  explicit PortAudioDevice(const PortAudioConfig& config);
  ~PortAudioDevice() override;
  PortAudioDevice(const PortAudioDevice&) = delete;
  PortAudioDevice& operator=(const PortAudioDevice&) = delete;

  std::string describe() const override { return description_; }
  int sample_rate() const override { return sample_rate_; }
  int64_t buffer_frames() const override { return period_; }
  void start(AudioCallback* cb) override;
  void stop() override;
  // Returns true only if the stream stopped on its own (a device error, unplugging, the audio
  // server quitting); the device is then "lost": stop() and the destructor skip PortAudio calls
  // that would wait for the dead driver (its resources are left to process exit).
  bool wait_finished(double timeout_s) override;
  uint64_t xruns() const override { return xruns_.load(); }
  double device_latency_s() const override { return latency_s_; }

  // Called by PortAudio's thread.
  int on_audio(const float* in, float* out, int64_t frames, bool in_overflow, bool out_underflow);

 private:
  void* stream_ = nullptr;  // PaStream*
  bool initialized_ = false, started_ = false, lost_ = false;
  AudioCallback* cb_ = nullptr;
  int sample_rate_ = 0, in_channels_ = 1, out_channels_ = 1;
  int64_t period_ = 0;
  double latency_s_ = 0.0;
  std::string description_;
  std::vector<float> in_mono_, out_mono_;
  std::atomic<uint64_t> xruns_{0};
};

}  // namespace rvc::audio
