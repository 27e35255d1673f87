#include "rvc/dsp/f0.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

// Dot product with 8 independent float accumulators: the compiler keeps them in one or two
// vector registers, which is what makes the O(N*W) difference function fast enough.
double dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  double s = 0.0;
  for (int k = 0; k < 8; ++k) s += acc[k];
  for (; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

void F0Config::validate() const {
  if (sample_rate < 1000 || sample_rate > 768000) {
    fail("f0 config: sample_rate ", sample_rate, " Hz out of range [1000, 768000]");
  }
  if (hop < 0) fail("f0 config: hop ", hop, " must be >= 0");
  if (!(f0_min_hz >= 10.0) || !(f0_max_hz > f0_min_hz) || f0_max_hz * 2.5 > sample_rate) {
    fail("f0 config: f0 range [", f0_min_hz, ", ", f0_max_hz, "] Hz invalid for ", sample_rate,
         " Hz (need 10 <= min < max <= sample_rate / 2.5)");
  }
  if (!(threshold > 0.0 && threshold < 1.0))
    fail("f0 config: threshold ", threshold, " not in (0,1)");
  if (!(max_aperiodicity > 0.0)) fail("f0 config: max_aperiodicity must be > 0");
  if (!(silence_rms >= 0.0)) fail("f0 config: silence_rms must be >= 0");
  if (median_radius < 0 || median_radius > 50) {
    fail("f0 config: median_radius ", median_radius, " not in [0, 50]");
  }
}

YinAnalyzer::YinAnalyzer(const F0Config& config) : config_(config) {
  config_.validate();
  tau_max_ = static_cast<int>(std::ceil(config_.sample_rate / config_.f0_min_hz));
  tau_min_ = std::max(2, static_cast<int>(std::floor(config_.sample_rate / config_.f0_max_hz)));
  window_ = tau_max_;  // one period of the lowest f0 is integrated
  energy_.assign(static_cast<size_t>(frame_length()) + 1, 0.0);
  cmnd_.assign(static_cast<size_t>(tau_max_) + 2, 1.0);
}

YinResult YinAnalyzer::analyze(const float* x) {
  const int n = frame_length();
  energy_[0] = 0.0;
  for (int i = 0; i < n; ++i) energy_[i + 1] = energy_[i] + static_cast<double>(x[i]) * x[i];
  const double e0 = energy_[window_];
  YinResult r;
  if (e0 <= 0.0 || std::sqrt(e0 / window_) < config_.silence_rms) return r;

  // d(tau) = sum_j (x_j - x_{j+tau})^2 = e(0) + e(tau) - 2 r(tau); d'(tau) = d(tau) tau / sum d.
  double running = 0.0;
  cmnd_[0] = 1.0;
  for (int tau = 1; tau <= tau_max_; ++tau) {
    const double et = energy_[tau + window_] - energy_[tau];
    double d = e0 + et - 2.0 * dot(x, x + tau, window_);
    if (d < 0.0) d = 0.0;
    running += d;
    cmnd_[tau] = running > 0.0 ? d * tau / running : 1.0;
  }

  int best = -1;
  for (int tau = tau_min_; tau <= tau_max_; ++tau) {
    if (cmnd_[tau] < config_.threshold) {
      while (tau + 1 <= tau_max_ && cmnd_[tau + 1] < cmnd_[tau]) ++tau;
      best = tau;
      break;
    }
  }
  if (best < 0) {
    best = tau_min_;
    for (int tau = tau_min_ + 1; tau <= tau_max_; ++tau) {
      if (cmnd_[tau] < cmnd_[best]) best = tau;
    }
  }
  r.aperiodicity = cmnd_[best];
  if (r.aperiodicity > config_.max_aperiodicity || best >= tau_max_) return r;

  // Parabolic interpolation of the dip. d' of neighbours is close enough to d's shape here.
  double period = best;
  const double a = cmnd_[best - 1], b = cmnd_[best], c = cmnd_[best + 1];
  const double denom = a - 2.0 * b + c;
  if (denom > 0.0) period += std::clamp(0.5 * (a - c) / denom, -0.5, 0.5);
  r.period = period;
  r.f0_hz = config_.sample_rate / period;
  if (r.f0_hz < config_.f0_min_hz * 0.97 || r.f0_hz > config_.f0_max_hz * 1.03) r = YinResult{};
  return r;
}

namespace {

// Median of 2r+1 neighbours (edges replicated) of src into dst (may not alias); win: 2r+1 floats.
void median_into(const float* src, float* dst, int64_t n, int radius, float* win) {
  const auto w = static_cast<size_t>(2 * radius + 1);
  for (int64_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < w; ++k) {
      const int64_t j = std::clamp<int64_t>(i + static_cast<int64_t>(k) - radius, 0, n - 1);
      win[k] = src[j];
    }
    std::nth_element(win, win + radius, win + w);
    dst[i] = win[radius];
  }
}

}  // namespace

YinTracker::YinTracker(const F0Config& config, int64_t max_samples)
    : yin_(config), hop_(config.hop_samples()), max_samples_(max_samples) {
  if (max_samples < 0) fail("YinTracker: negative max_samples ", max_samples);
  frame_.assign(static_cast<size_t>(yin_.frame_length()), 0.0f);
  raw_.assign(static_cast<size_t>(frames(max_samples)), 0.0f);
  win_.assign(static_cast<size_t>(2 * config.median_radius + 1), 0.0f);
}

void YinTracker::track(const float* x, int64_t n, float* f0) {
  if (n < 0 || n > max_samples_ || (n > 0 && !x)) {
    fail("YinTracker: ", n, " samples, expected [0, ", max_samples_, "]");
  }
  const int len = yin_.frame_length();
  const int half = len / 2;
  const int64_t n_frames = frames(n);
  const int radius = yin_.config().median_radius;
  // Median smoothing reads the raw track, so it goes to raw_ first when smoothing applies.
  const bool smooth = radius > 0 && n_frames >= 2;
  float* dst = smooth ? raw_.data() : f0;
  for (int64_t i = 0; i < n_frames; ++i) {
    const int64_t start = i * hop_ - half;
    for (int j = 0; j < len; ++j) {
      const int64_t k = start + j;
      frame_[j] = (k >= 0 && k < n && std::isfinite(x[k])) ? x[k] : 0.0f;
    }
    dst[i] = static_cast<float>(yin_.analyze(frame_.data()).f0_hz);
  }
  if (smooth) median_into(raw_.data(), f0, n_frames, radius, win_.data());
}

std::vector<float> estimate_f0(const float* x, int64_t n, const F0Config& config) {
  if (n < 0 || (n > 0 && !x)) fail("estimate_f0: invalid input (n = ", n, ")");
  YinTracker tracker(config, n);
  std::vector<float> f0(static_cast<size_t>(tracker.frames(n)), 0.0f);
  tracker.track(x, n, f0.data());
  return f0;
}

void median_filter(std::vector<float>& track, int radius) {
  if (radius <= 0 || track.size() < 2) return;
  const std::vector<float> src = track;
  std::vector<float> win(static_cast<size_t>(2 * radius + 1));
  median_into(src.data(), track.data(), static_cast<int64_t>(track.size()), radius, win.data());
}

void shift_f0(std::vector<float>& f0_hz, double semitones) {
  const double ratio = std::pow(2.0, semitones / 12.0);
  for (auto& f : f0_hz) f = static_cast<float>(f * ratio);
}

int64_t f0_to_coarse(double f0_hz) {
  const double mel_min = 1127.0 * std::log(1.0 + 50.0 / 700.0);
  const double mel_max = 1127.0 * std::log(1.0 + 1100.0 / 700.0);
  double mel = 1127.0 * std::log(1.0 + f0_hz / 700.0);
  if (mel > 0.0) mel = (mel - mel_min) * 254.0 / (mel_max - mel_min) + 1.0;
  mel = std::clamp(mel, 1.0, 255.0);
  return static_cast<int64_t>(std::nearbyint(mel));  // half-to-even, like np.rint
}

std::vector<int64_t> f0_to_coarse(const std::vector<float>& f0_hz) {
  std::vector<int64_t> out(f0_hz.size());
  for (size_t i = 0; i < f0_hz.size(); ++i) out[i] = f0_to_coarse(static_cast<double>(f0_hz[i]));
  return out;
}

double median_voiced_f0(const std::vector<float>& f0_hz) {
  std::vector<float> v;
  for (float f : f0_hz) {
    if (f > 0.0f) v.push_back(f);
  }
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<int64_t>(mid), v.end());
  return v[mid];
}

}  // namespace rvc::dsp
