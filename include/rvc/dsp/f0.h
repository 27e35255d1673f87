// rvc/dsp/f0.h: a classical F0 (pitch) estimator (YIN) and upstream RVC's pitch helpers.
//
// YIN (de Cheveigne & Kawahara 2002) per frame: difference function d(tau), cumulative mean
// normalised difference d'(tau), absolute threshold (first dip below `threshold`, followed down to
// its local minimum; the global minimum when no dip is that deep), parabolic interpolation of the
// minimum, and a voicing decision (d' at the minimum <= `max_aperiodicity` and frame RMS above
// `silence_rms`). The track is then median-smoothed (radius `median_radius`, edges replicated).
//
// Frame grid (upstream RVC's): frame i is centred on sample i*hop, the signal is zero-padded on
// both sides, and a signal of n samples gives n/hop + 1 frames (integer division). At 16 kHz the
// default hop is 160 samples (10 ms). Values are in Hz, 0 = unvoiced.
//
// Cost: O((tau_max+1) * W) multiply-adds per frame with W = tau_max = sr/f0_min; at 16 kHz and
// f0_min = 50 Hz that is ~10 M per second of audio, well over 100x real time on one core.
//
// Thread-safety: free functions are reentrant; a YinAnalyzer owns scratch memory and must not be
// used from two threads at once (make one per thread). YinAnalyzer::analyze() does not allocate.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::dsp {

struct F0Config {
  int sample_rate = 16000;
  int hop = 0;              // samples between frames; 0 = sample_rate / 100 (160 at 16 kHz)
  double f0_min_hz = 50.0;  // lowest f0 searched; sets the window (sr / f0_min samples)
  double f0_max_hz = 1100.0;
  double threshold = 0.15;         // YIN absolute threshold on d'
  double max_aperiodicity = 0.35;  // frames whose best d' is above this are unvoiced
  double silence_rms = 3e-4;       // frames quieter than this (about -70 dBFS) are unvoiced
  int median_radius = 1;           // median smoothing over 2r+1 frames; 0 = off

  // Throws rvc::Error naming the bad field.
  void validate() const;
  int hop_samples() const { return hop > 0 ? hop : sample_rate / 100; }
};

// One YIN frame: f0 in Hz (0 = unvoiced), the period in samples (0 = unvoiced) and the
// aperiodicity d' at the chosen lag (0 = perfectly periodic, ~1 = noise).
struct YinResult {
  double f0_hz = 0.0;
  double period = 0.0;
  double aperiodicity = 1.0;
};

// Per-frame YIN with preallocated scratch. Real-time safe after construction.
class YinAnalyzer {
 public:
  explicit YinAnalyzer(const F0Config& config);

  // Samples one analysis frame spans: W + tau_max. The frame's time is its middle.
  int frame_length() const { return window_ + tau_max_; }
  int tau_min() const { return tau_min_; }
  int tau_max() const { return tau_max_; }
  const F0Config& config() const { return config_; }

  // Analyses frame[0 .. frame_length()).
  YinResult analyze(const float* frame);

 private:
  F0Config config_;
  int window_ = 0, tau_min_ = 0, tau_max_ = 0;
  std::vector<double> energy_;  // prefix sums of x^2, frame_length()+1
  std::vector<double> cmnd_;    // d'(tau), tau_max+1
};

// estimate_f0() with its scratch allocated up front, for repeated calls on signals of up to
// max_samples (a stream's fixed window). track() never allocates, locks or logs; one instance
// per caller (not thread-safe).
class YinTracker {
 public:
  // Throws rvc::Error on a bad config or max_samples < 0.
  YinTracker(const F0Config& config, int64_t max_samples);
  int64_t max_samples() const { return max_samples_; }
  // Frames for n samples: n / hop + 1.
  int64_t frames(int64_t n) const { return n / hop_ + 1; }
  // f0[frames(n)] = estimate_f0(x, n, config), the same values. Throws rvc::Error when
  // n > max_samples() (a set-up error).
  void track(const float* x, int64_t n, float* f0);

 private:
  YinAnalyzer yin_;
  int hop_ = 160;
  int64_t max_samples_ = 0;
  std::vector<float> frame_, raw_, win_;
};

// F0 track of a whole signal on the frame grid above (n / hop + 1 frames), median-smoothed.
std::vector<float> estimate_f0(const float* x, int64_t n, const F0Config& config = {});
inline std::vector<float> estimate_f0(const std::vector<float>& x, const F0Config& config = {}) {
  return estimate_f0(x.data(), static_cast<int64_t>(x.size()), config);
}

// Median filter of odd width 2*radius+1 with replicated edges, in place (unvoiced zeros take
// part, so isolated voiced or unvoiced frames are removed).
void median_filter(std::vector<float>& track, int radius);

// Upstream's pitch shift: f0 * 2^(semitones/12) (unvoiced stays 0).
// ref: infer/modules/vc/pipeline.py, Pipeline.get_f0 (f0 *= pow(2, f0_up_key / 12))
void shift_f0(std::vector<float>& f0_hz, double semitones);

// Upstream's coarse pitch: mel = 1127 ln(1 + f/700); voiced frames (mel > 0) map to
// (mel - mel(50)) * 254 / (mel(1100) - mel(50)) + 1; everything is clipped to [1, 255] and rounded
// half-to-even (np.rint). Unvoiced frames give 1. Computed in double like upstream's float64 f0.
// ref: infer/modules/vc/pipeline.py, Pipeline.get_f0
std::vector<int64_t> f0_to_coarse(const std::vector<float>& f0_hz);
int64_t f0_to_coarse(double f0_hz);

// Median of the voiced (> 0) values of a track; 0 when none are voiced. Handy for tests and logs.
double median_voiced_f0(const std::vector<float>& f0_hz);

}  // namespace rvc::dsp
