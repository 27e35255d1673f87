// NoiseSuppressor: webrtc's noise suppression behind a delay-matched dry path and one-block
// fades. See rvc/dsp/denoise.h.
#include "rvc/dsp/denoise.h"

#include <webrtc/modules/audio_processing/include/audio_processing.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

constexpr const char* kNames[] = {"off", "low", "moderate", "high", "very_high"};
constexpr int kPrimeFrames = 50;  // 500 ms: webrtc's noise estimator leaves its start-up phase

webrtc::NoiseSuppression::Level webrtc_level(NoiseLevel l) {
  switch (l) {
    case NoiseLevel::kModerate:
      return webrtc::NoiseSuppression::kModerate;
    case NoiseLevel::kHigh:
      return webrtc::NoiseSuppression::kHigh;
    case NoiseLevel::kVeryHigh:
      return webrtc::NoiseSuppression::kVeryHigh;
    default:
      return webrtc::NoiseSuppression::kLow;
  }
}

// One webrtc instance with only noise suppression on, initialised for mono at rate_hz.
std::unique_ptr<webrtc::AudioProcessing> make_apm(int rate_hz, NoiseLevel level) {
  std::unique_ptr<webrtc::AudioProcessing> apm(webrtc::AudioProcessing::Create());
  if (!apm) fail("noise_suppression: webrtc::AudioProcessing::Create failed");
  // Everything but noise suppression off, whatever the library's defaults.
  apm->high_pass_filter()->Enable(false);
  apm->echo_cancellation()->Enable(false);
  apm->echo_control_mobile()->Enable(false);
  apm->gain_control()->Enable(false);
  apm->level_estimator()->Enable(false);
  apm->voice_detection()->Enable(false);
  if (apm->noise_suppression()->Enable(true) != 0 ||
      apm->noise_suppression()->set_level(webrtc_level(level)) != 0) {
    fail("noise_suppression: webrtc refused to enable noise suppression");
  }
  const webrtc::StreamConfig sc(rate_hz, 1);
  const webrtc::ProcessingConfig pc = {{sc, sc, sc, sc}};
  if (const int e = apm->Initialize(pc); e != 0) {
    fail("noise_suppression: webrtc cannot run at ", rate_hz, " Hz (error ", e, ")");
  }
  return apm;
}

// Deterministic white noise in [-0.5, 0.5).
void fill_noise(float* x, int64_t n) {
  uint32_t s = 0x12345678u;
  for (int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    x[i] = static_cast<float>(s >> 8) / 16777216.0f - 0.5f;
  }
}

// The wet path's delay: white noise through a scratch instance, the lag of the cross-correlation
// peak (webrtc's gains are zero-phase, so its output is the input delayed and reshaped).
int64_t measure_latency(int rate_hz, int frame) {
  auto apm = make_apm(rate_hz, NoiseLevel::kLow);
  const webrtc::StreamConfig sc(rate_hz, 1);
  const int64_t frames = 12, n = frames * frame;
  std::vector<float> x(static_cast<size_t>(n)), y(x.size());
  fill_noise(x.data(), n);
  for (int64_t f = 0; f < frames; ++f) {
    const float* src = x.data() + f * frame;
    float* dst = y.data() + f * frame;
    if (apm->ProcessStream(&src, sc, sc, &dst) != 0) {
      fail("noise_suppression: webrtc failed to process a frame at ", rate_hz, " Hz");
    }
  }
  const int64_t start = 6 * frame, len = 2 * frame, max_lag = 3 * frame;
  int64_t best = 0;
  double best_v = -1.0;
  for (int64_t lag = 0; lag <= max_lag; ++lag) {
    double v = 0.0;
    for (int64_t t = start; t < start + len; ++t) v += static_cast<double>(x[t]) * y[t + lag];
    if (v > best_v) best_v = v, best = lag;
  }
  if (!(best_v > 0.0)) fail("noise_suppression: could not measure webrtc's delay");
  return best;
}

float smooth_step(int64_t i, int64_t n) {  // raised cosine, 0 -> 1 reached on the last sample
  return static_cast<float>(
      0.5 - 0.5 * std::cos(M_PI * static_cast<double>(i + 1) / static_cast<double>(n)));
}

}  // namespace

const char* noise_level_name(NoiseLevel level) {
  return valid_noise_level(level) ? kNames[static_cast<int>(level)] : "invalid";
}

bool valid_noise_level(NoiseLevel level) {
  const int v = static_cast<int>(level);
  return v >= 0 && v <= 4;
}

NoiseLevel parse_noise_level(std::string_view text, std::string_view field) {
  for (int i = 0; i <= 4; ++i) {
    if (text == kNames[i]) return static_cast<NoiseLevel>(i);
  }
  fail(field, ": expected off, low, moderate, high or very_high, got '", text, "'");
}

struct NoiseSuppressor::Webrtc {
  std::unique_ptr<webrtc::AudioProcessing> apm[2];
  webrtc::StreamConfig sc;
  std::vector<float> frame;  // priming scratch
};

NoiseSuppressor::NoiseSuppressor(int sample_rate, int64_t max_block_frames, NoiseLevel level)
    : sample_rate_(sample_rate), frame_(sample_rate / 100), max_block_(max_block_frames) {
  if (sample_rate < 8000 || sample_rate > 192000) {
    fail("noise_suppression: sample rate expected 8000..192000 Hz, got ", sample_rate);
  }
  if (max_block_frames <= 0 || max_block_frames % frame_ != 0) {
    fail("noise_suppression: block of ", max_block_frames,
         " samples is not a whole number of 10 ms frames (", frame_, " samples)");
  }
  if (!valid_noise_level(level)) {
    fail("noise_suppression: expected a level 0..4, got ", static_cast<int>(level));
  }
  const int rate = 100 * frame_;  // see the header: 22050 -> 22000
  ns_delay_ = measure_latency(rate, frame_);
  latency_ = std::max<int64_t>(1, (ns_delay_ + frame_ - 1) / frame_) * frame_;
  lead_ = latency_ - ns_delay_;
  prime_ = kPrimeFrames * static_cast<int64_t>(frame_);
  webrtc_ = std::make_unique<Webrtc>();
  webrtc_->sc = webrtc::StreamConfig(rate, 1);
  for (auto& a : webrtc_->apm)
    a = make_apm(rate, level == NoiseLevel::kOff ? NoiseLevel::kLow : level);
  webrtc_->frame.assign(static_cast<size_t>(frame_), 0.0f);
  hist_.assign(static_cast<size_t>(std::max(prime_ + lead_, latency_) + max_block_), 0.0f);
  for (auto& w : wet_) w.assign(static_cast<size_t>(max_block_), 0.0f);
  want_ = level;
}

NoiseSuppressor::~NoiseSuppressor() = default;

void NoiseSuppressor::set_level(NoiseLevel level) {
  want_ = valid_noise_level(level) ? level : NoiseLevel::kOff;
}

void NoiseSuppressor::run(int k, const float* x, int64_t n) {
  float* w = wet_[k].data();
  for (int64_t i = 0; i < n; ++i) w[i] = std::isfinite(x[i]) ? x[i] : 0.0f;
  auto& apm = *webrtc_->apm[k];
  for (int64_t f = 0; f < n; f += frame_) {
    float* p = w + f;
    const float* src = p;
    // Cannot fail for the configuration set up in the constructor; nothing to do if it did.
    (void)apm.ProcessStream(&src, webrtc_->sc, webrtc_->sc, &p);
  }
}

// Feeds the input just before what webrtc gets for the current block of n samples (up to prime_
// samples of what has been seen) through both instances, outputs discarded.
void NoiseSuppressor::prime(int64_t n) {
  const int64_t h = static_cast<int64_t>(hist_.size());
  const int64_t p = std::min(prime_, std::max<int64_t>(0, seen_ - n - lead_)) / frame_ * frame_;
  const float* src0 = hist_.data() + h - n - lead_ - p;
  float* buf = webrtc_->frame.data();
  for (int64_t f = 0; f < p; f += frame_) {
    for (auto& a : webrtc_->apm) {
      for (int i = 0; i < frame_; ++i) buf[i] = std::isfinite(src0[f + i]) ? src0[f + i] : 0.0f;
      const float* src = buf;
      (void)a->ProcessStream(&src, webrtc_->sc, webrtc_->sc, &buf);
    }
  }
}

void NoiseSuppressor::process(float* x, int64_t n) {
  if (n < 0 || n > max_block_ || n % frame_ != 0) {
    fail("NoiseSuppressor::process: ", n, " samples: expected a multiple of ", frame_, " up to ",
         max_block_);
  }
  if (n == 0) return;
  // hist_ ends with the current block: shift by n, append x.
  const int64_t h = static_cast<int64_t>(hist_.size());
  std::memmove(hist_.data(), hist_.data() + n, static_cast<size_t>(h - n) * sizeof(float));
  std::memcpy(hist_.data() + h - n, x, static_cast<size_t>(n) * sizeof(float));
  seen_ = std::min(seen_ + n, h);
  const float* dry = hist_.data() + h - n - latency_;
  const float* wet_in = hist_.data() + h - n - lead_;  // webrtc adds the other ns_delay_

  const NoiseLevel target = want_;
  if (target == NoiseLevel::kOff && shown_ == NoiseLevel::kOff) {
    std::memcpy(x, dry, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  if (target != NoiseLevel::kOff && !running_) {
    for (auto& a : webrtc_->apm) a->noise_suppression()->set_level(webrtc_level(target));
    prime(n);
    running_ = true;
  }
  const int other = 1 - active_;
  const bool change = shown_ != NoiseLevel::kOff && target != NoiseLevel::kOff && target != shown_;
  if (change) webrtc_->apm[other]->noise_suppression()->set_level(webrtc_level(target));
  run(active_, wet_in, n);
  run(other, wet_in, n);

  const float* from = shown_ == NoiseLevel::kOff ? dry : wet_[active_].data();
  const float* to =
      target == NoiseLevel::kOff ? dry : (change ? wet_[other] : wet_[active_]).data();
  if (from == to) {
    std::memcpy(x, to, static_cast<size_t>(n) * sizeof(float));
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float g = smooth_step(i, n);
      x[i] = from[i] + g * (to[i] - from[i]);
    }
  }
  if (change) {
    webrtc_->apm[active_]->noise_suppression()->set_level(webrtc_level(target));
    active_ = other;
  }
  if (target == NoiseLevel::kOff) running_ = false;
  shown_ = target;
}

void NoiseSuppressor::reset() {
  for (auto& a : webrtc_->apm) {
    const webrtc::ProcessingConfig pc = {{webrtc_->sc, webrtc_->sc, webrtc_->sc, webrtc_->sc}};
    if (a->Initialize(pc) != 0) fail("noise_suppression: webrtc failed to re-initialise");
  }
  std::fill(hist_.begin(), hist_.end(), 0.0f);
  seen_ = 0;
  running_ = false;
  shown_ = NoiseLevel::kOff;
  active_ = 0;
}

}  // namespace rvc::dsp
