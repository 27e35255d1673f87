// PortAudio: device listing, selection, rate negotiation and the full-duplex callback.
#include "rvc/audio/portaudio_device.h"

#include <fcntl.h>
#include <portaudio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <thread>

#include "rvc/core/error.h"
#include "rvc/core/log.h"

namespace rvc::audio {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() < 6 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string host_api_name(PaHostApiIndex i) {
  const PaHostApiInfo* h = Pa_GetHostApiInfo(i);
  return h && h->name ? h->name : "?";
}

// Resolves "default", an index or a name to a device with channels in the wanted direction.
PaDeviceIndex resolve(const std::string& spec, bool input) {
  const char* dir = input ? "input" : "output";
  const int n = Pa_GetDeviceCount();
  auto channels = [&](PaDeviceIndex i) {
    const PaDeviceInfo* d = Pa_GetDeviceInfo(i);
    return d ? (input ? d->maxInputChannels : d->maxOutputChannels) : 0;
  };
  if (n <= 0) fail("no audio devices found (rvc-rt devices lists what PortAudio sees)");
  if (spec.empty() || spec == "default") {
    const PaDeviceIndex i = input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
    if (i == paNoDevice) fail("no default ", dir, " device (see rvc-rt devices)");
    return i;
  }
  if (all_digits(spec)) {
    const int i = std::stoi(spec);
    if (i >= n) fail(dir, " device ", i, ": no such index (", n, " devices; see rvc-rt devices)");
    if (channels(i) <= 0) fail(dir, " device ", i, " has no ", dir, " channels");
    return i;
  }
  std::vector<PaDeviceIndex> hits;
  for (PaDeviceIndex i = 0; i < n; ++i) {
    if (channels(i) <= 0) continue;
    const std::string name = lower(Pa_GetDeviceInfo(i)->name);
    if (name == lower(spec)) return i;
    if (name.find(lower(spec)) != std::string::npos) hits.push_back(i);
  }
  if (hits.empty()) fail(dir, " device '", spec, "' not found (see rvc-rt devices)");
  if (hits.size() > 1) {
    std::ostringstream os;
    for (PaDeviceIndex i : hits) os << " [" << i << "] " << Pa_GetDeviceInfo(i)->name;
    fail(dir, " device '", spec, "' is ambiguous:", os.str(), "; give an index");
  }
  return hits[0];
}

// ALSA and JACK print pages of probing noise to stderr while PortAudio scans them (no card, no
// JACK server). Library code must not print, so stderr is pointed at /dev/null for the scan
// unless the log level is debug. Only at start-up, before any audio thread exists.
PaError pa_initialize_quietly() {
  if (log_level() <= LogLevel::kDebug) return Pa_Initialize();
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved >= 0 && null_fd >= 0) dup2(null_fd, STDERR_FILENO);
  const PaError err = Pa_Initialize();
  if (saved >= 0 && null_fd >= 0) {
    std::fflush(stderr);
    dup2(saved, STDERR_FILENO);
  }
  if (null_fd >= 0) close(null_fd);
  if (saved >= 0) close(saved);
  return err;
}

int pa_callback(const void* input, void* output, unsigned long frames,
                const PaStreamCallbackTimeInfo*, PaStreamCallbackFlags flags, void* user) {
  auto* self = static_cast<PortAudioDevice*>(user);
  return self->on_audio(static_cast<const float*>(input), static_cast<float*>(output),
                        static_cast<int64_t>(frames),
                        (flags & (paInputOverflow | paInputUnderflow)) != 0,
                        (flags & (paOutputUnderflow | paOutputOverflow)) != 0);
}

}  // namespace

AudioSystemInfo list_audio_devices() {
  AudioSystemInfo info;
  const PaVersionInfo* v = Pa_GetVersionInfo();
  info.version = v && v->versionText ? v->versionText : "PortAudio";
  const PaError err = pa_initialize_quietly();
  if (err != paNoError) {
    info.error = Pa_GetErrorText(err);
    return info;
  }
  for (PaHostApiIndex h = 0; h < Pa_GetHostApiCount(); ++h)
    info.host_apis.push_back(host_api_name(h));
  const PaDeviceIndex def_in = Pa_GetDefaultInputDevice(), def_out = Pa_GetDefaultOutputDevice();
  for (PaDeviceIndex i = 0; i < std::max(0, Pa_GetDeviceCount()); ++i) {
    const PaDeviceInfo* d = Pa_GetDeviceInfo(i);
    if (!d) continue;
    info.devices.push_back({i, d->name ? d->name : "?", host_api_name(d->hostApi),
                            d->maxInputChannels, d->maxOutputChannels, d->defaultSampleRate,
                            i == def_in, i == def_out});
  }
  Pa_Terminate();
  return info;
}

PortAudioDevice::PortAudioDevice(const PortAudioConfig& config) {
  PaError err = pa_initialize_quietly();
  if (err != paNoError) fail("PortAudio could not start: ", Pa_GetErrorText(err));
  initialized_ = true;
  const PaDeviceIndex in_dev = resolve(config.input, true);
  const PaDeviceIndex out_dev = resolve(config.output, false);
  const PaDeviceInfo* in_info = Pa_GetDeviceInfo(in_dev);
  const PaDeviceInfo* out_info = Pa_GetDeviceInfo(out_dev);
  sample_rate_ = config.sample_rate > 0 ? config.sample_rate
                                        : static_cast<int>(std::lround(in_info->defaultSampleRate));
  if (sample_rate_ < 8000 || sample_rate_ > 192000) {
    fail("sample rate ", sample_rate_, " Hz is out of range (8000..192000)");
  }
  period_ = config.buffer_frames > 0 ? config.buffer_frames : sample_rate_ / 100;

  PaStreamParameters ip{}, op{};
  ip.device = in_dev;
  ip.sampleFormat = paFloat32;
  ip.suggestedLatency = config.latency_s > 0 ? config.latency_s : in_info->defaultLowInputLatency;
  op.device = out_dev;
  op.sampleFormat = paFloat32;
  op.suggestedLatency = config.latency_s > 0 ? config.latency_s : out_info->defaultLowOutputLatency;
  // Mono when the device takes it, else up to stereo (mixed down / duplicated here).
  ip.channelCount = 1;
  op.channelCount = 1;
  if (Pa_IsFormatSupported(&ip, nullptr, sample_rate_) != paFormatIsSupported) {
    ip.channelCount = std::min(2, in_info->maxInputChannels);
  }
  if (Pa_IsFormatSupported(nullptr, &op, sample_rate_) != paFormatIsSupported) {
    op.channelCount = std::min(2, out_info->maxOutputChannels);
  }
  err = Pa_IsFormatSupported(&ip, &op, sample_rate_);
  if (err != paFormatIsSupported) {
    fail("sample rate ", sample_rate_, " Hz is not supported by input '", in_info->name,
         "' (default ", in_info->defaultSampleRate, " Hz) with output '", out_info->name,
         "' (default ", out_info->defaultSampleRate, " Hz): ", Pa_GetErrorText(err),
         "; try --sample-rate with a rate both support");
  }
  in_channels_ = ip.channelCount;
  out_channels_ = op.channelCount;
  in_mono_.assign(static_cast<size_t>(period_), 0.0f);
  out_mono_.assign(static_cast<size_t>(period_), 0.0f);
  PaStream* s = nullptr;
  err = Pa_OpenStream(&s, &ip, &op, sample_rate_, static_cast<unsigned long>(period_), paClipOff,
                      pa_callback, this);
  if (err != paNoError) {
    fail("cannot open '", in_info->name, "' -> '", out_info->name, "' at ", sample_rate_,
         " Hz: ", Pa_GetErrorText(err),
         err == paDeviceUnavailable ? " (the device is busy or gone)" : "");
  }
  stream_ = s;
  if (const PaStreamInfo* si = Pa_GetStreamInfo(s))
    latency_s_ = si->inputLatency + si->outputLatency;
  std::ostringstream os;
  os << "[" << in_dev << "] " << in_info->name << " (" << host_api_name(in_info->hostApi) << ", "
     << in_channels_ << " ch) -> [" << out_dev << "] " << out_info->name << " (" << out_channels_
     << " ch), " << sample_rate_ << " Hz, " << period_ << "-frame periods";
  description_ = os.str();
}

PortAudioDevice::~PortAudioDevice() {
  try {
    stop();
  } catch (...) {
  }
  // After a loss PortAudio's JACK backend blocks for ever closing the stream (it waits for a
  // callback from the dead server), and Pa_Terminate would close it too: the stream and the
  // library state are left to process exit instead.
  if (lost_) return;
  if (stream_) Pa_CloseStream(static_cast<PaStream*>(stream_));
  if (initialized_) Pa_Terminate();
}

void PortAudioDevice::start(AudioCallback* cb) {
  cb_ = cb;
  const PaError err = Pa_StartStream(static_cast<PaStream*>(stream_));
  if (err != paNoError) fail("cannot start audio: ", Pa_GetErrorText(err));
  started_ = true;
}

void PortAudioDevice::stop() {
  if (!started_) return;
  started_ = false;
  // A stream that stopped on its own (its device or server is gone) has no callback left to
  // acknowledge a stop: PortAudio's JACK backend would wait for one for ever.
  if (lost_) return;
  Pa_StopStream(static_cast<PaStream*>(stream_));
}

bool PortAudioDevice::wait_finished(double timeout_s) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < until) {
    if (started_ && Pa_IsStreamActive(static_cast<PaStream*>(stream_)) != 1) {
      lost_ = true;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int PortAudioDevice::on_audio(const float* in, float* out, int64_t frames, bool in_overflow,
                              bool out_underflow) {
  const bool xrun = in_overflow || out_underflow;
  if (xrun) xruns_.fetch_add(1, std::memory_order_relaxed);
  // PortAudio keeps to the period we asked for; larger calls are split, never allocated for.
  for (int64_t done = 0; done < frames;) {
    const int64_t n = std::min(period_, frames - done);
    for (int64_t i = 0; i < n; ++i) {
      float acc = 0.0f;
      if (in) {
        for (int c = 0; c < in_channels_; ++c) acc += in[(done + i) * in_channels_ + c];
        acc /= static_cast<float>(in_channels_);
      }
      in_mono_[static_cast<size_t>(i)] = acc;
    }
    cb_->audio(in_mono_.data(), out_mono_.data(), n,
               {in_overflow && done == 0, out_underflow && done == 0});
    for (int64_t i = 0; i < n; ++i) {
      for (int c = 0; c < out_channels_; ++c) {
        out[(done + i) * out_channels_ + c] = out_mono_[static_cast<size_t>(i)];
      }
    }
    done += n;
  }
  return paContinue;
}

}  // namespace rvc::audio
