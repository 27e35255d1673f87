// rvc/dsp/denoise.h: real-time noise suppression (Debian's webrtc-audio-processing 0.3,
// webrtc::AudioProcessing with only its NoiseSuppression enabled), switchable on, off and between
// levels while running without a click.
//
// Rates: any rate. webrtc works in 10 ms frames of sample_rate / 100 samples and resamples
// internally (its own sinc resampler, allocated at set-up) to its processing rate, 8/16/32/48 kHz.
// A rate that is not a multiple of 100 Hz (11025, 22050) is handed to webrtc as
// 100 * (sample_rate / 100) Hz (22050 -> 22000): only the suppressor's idea of frequency is scaled
// by under 0.5%, the signal itself is untouched.
//
// Latency: exactly one 10 ms frame (frame_frames() samples), whatever the level. webrtc's own delay
// (overlap-add and band-split filters, 6-9 ms: 334 samples at 48 kHz, 96 at 16 kHz) is measured
// once at construction by cross-correlation through a scratch instance, and webrtc is fed the
// input that much less than a frame late, so the wet path lags by one frame; the dry path is
// delayed by one frame too. So the output is always the input one frame later: at level off
// exactly that (bit-identical samples), and fades mix aligned signals. A whole frame, not 6-9 ms,
// so that what follows sees its input shifted by a whole 10 ms: processing on a 10 ms grid (the
// built-in voice's pitch tracker at rates where 10 ms is its hop, e.g. 16 or 48 kHz) then gives
// the same output as without the suppressor, one frame later.
//
// Switching: set_level() takes effect at the next process(), which fades over that whole call
// (raised cosine) from the old output (dry or the old level's) to the new one. Two webrtc
// instances run while suppression is on (about 0.75% of a core each at 48 kHz) so that a level
// change crossfades between two adapted suppressors; at level off nothing runs but the delay
// line. Turning suppression on first feeds the last 500 ms of input (as much as has been seen)
// through both instances, so their noise estimate starts from the recent noise, not from zero.
//
// Real-time contract: the constructor allocates everything; process() and set_level() never
// allocate or throw with a correct n (the webrtc library takes its own uncontended mutex per
// 10 ms frame). Counted by tests/unit/dsp/denoise_test.cc. reset() is not real-time (it
// re-initialises webrtc, which allocates). One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rvc::dsp {

// webrtc's NoiseSuppression levels (kLow..kVeryHigh), plus off.
enum class NoiseLevel : int { kOff = 0, kLow = 1, kModerate = 2, kHigh = 3, kVeryHigh = 4 };

// "off", "low", "moderate", "high", "very_high".
const char* noise_level_name(NoiseLevel level);
// The names above (case-sensitive) -> level. Throws rvc::Error
// "<field>: expected off, low, moderate, high or very_high, got '<text>'".
NoiseLevel parse_noise_level(std::string_view text, std::string_view field = "noise_suppression");
// True for the five enumerators (an enum may hold any int).
bool valid_noise_level(NoiseLevel level);

class NoiseSuppressor {
 public:
  // sample_rate: [8000, 192000] Hz. max_block_frames: the largest n given to process(); a
  // positive multiple of frame_frames(). Throws rvc::Error naming the bad argument, or when
  // webrtc refuses the set-up.
  NoiseSuppressor(int sample_rate, int64_t max_block_frames, NoiseLevel level = NoiseLevel::kOff);
  ~NoiseSuppressor();
  NoiseSuppressor(const NoiseSuppressor&) = delete;
  NoiseSuppressor& operator=(const NoiseSuppressor&) = delete;

  // Real-time. The level the next process() fades to (an invalid value counts as off).
  void set_level(NoiseLevel level);
  // The level last asked for.
  NoiseLevel level() const { return want_; }

  // Real-time, in place: x[0, n) -> the same samples delayed by latency_frames(), suppressed at
  // the current level. n must be a multiple of frame_frames() and <= max_block_frames (else
  // rvc::Error, before anything changes). Non-finite input reaches webrtc as 0 (its state would
  // never recover from a NaN); webrtc clips its input to [-1, 1].
  void process(float* x, int64_t n);

  int sample_rate() const { return sample_rate_; }
  int frame_frames() const { return frame_; }          // samples per 10 ms (sample_rate / 100)
  int64_t latency_frames() const { return latency_; }  // == frame_frames()
  int64_t webrtc_delay_frames() const { return ns_delay_; }  // the part webrtc itself adds
  // Back to the freshly constructed state (silence, webrtc re-initialised), level kept. Not
  // real-time.
  void reset();

 private:
  struct Webrtc;
  void run(int k, const float* x, int64_t n);  // instance k: x[0, n) -> wet_[k]
  void prime(int64_t n);                       // before the current block of n samples

  int sample_rate_ = 0, frame_ = 0;
  int64_t max_block_ = 0, latency_ = 0, prime_ = 0;
  int64_t ns_delay_ = 0;  // webrtc's own delay
  int64_t lead_ = 0;      // latency_ - ns_delay_: how much later webrtc is fed than the input
  std::unique_ptr<Webrtc> webrtc_;
  NoiseLevel want_ = NoiseLevel::kOff, shown_ = NoiseLevel::kOff;
  int active_ = 0;           // instance whose output is heard at level shown_
  bool running_ = false;     // both instances are fed every frame
  int64_t seen_ = 0;         // input samples in hist_ since construction / reset (capped)
  std::vector<float> hist_;  // the last max(prime_ + lead_, latency_) + max_block_ inputs
  std::vector<float> wet_[2];
};

}  // namespace rvc::dsp
