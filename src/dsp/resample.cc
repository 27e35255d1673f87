#include "rvc/dsp/resample.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "rvc/core/error.h"

namespace rvc::dsp {

std::vector<float> resample(const float* x, int64_t n, int from_hz, int to_hz) {
  if (from_hz <= 0 || to_hz <= 0)
    fail("resample: rates must be positive, got ", from_hz, " -> ", to_hz);
  if (n < 0) fail("resample: negative length ", n);
  const int64_t n_out = static_cast<int64_t>(
      std::llround(static_cast<double>(n) * to_hz / static_cast<double>(from_hz)));
  if (from_hz == to_hz) return std::vector<float>(x, x + n);
  std::vector<float> out(static_cast<size_t>(n_out), 0.0f);
  if (n == 0 || n_out == 0) return out;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
  size_t done = 0;
  const soxr_error_t err = soxr_oneshot(from_hz, to_hz, 1, x, static_cast<size_t>(n), nullptr,
                                        out.data(), out.size(), &done, &io, &q, nullptr);
  if (err) fail("resample ", from_hz, " -> ", to_hz, " Hz: libsoxr: ", err);
  // soxr may stop a sample short of the rounded length; the tail stays zero.
  return out;
}

namespace {

// resampy 0.4.2's kaiser_best half window (resampy/data/kaiser_best.npz), rebuilt the way its
// scripts/create_filter.py made it: resampy.filters.sinc_window(num_zeros=50, precision=13,
// window=scipy.signal.kaiser(beta), rolloff). rolloff is the npz's stored value; beta was fitted
// to the stored table (the docstring rounds it to 12.9846). Max deviation from the npz: 1.6e-15.
constexpr int kKbZeros = 50;
constexpr int64_t kKbTable = 8192;  // 2^precision
constexpr double kKbRolloff = 0.9173473712608761;
constexpr double kKbBeta = 12.984585247040012;

const std::vector<double>& kaiser_best_window() {
  static const std::vector<double> win = [] {
    const int64_t n = kKbTable * kKbZeros;
    std::vector<double> w(static_cast<size_t>(n + 1));
    const double step = static_cast<double>(kKbZeros) / static_cast<double>(n);  // np.linspace
    const double i0_beta = std::cyl_bessel_i(0.0, kKbBeta);
    for (int64_t m = 0; m <= n; ++m) {
      const double x = m == n ? kKbZeros : static_cast<double>(m) * step;
      const double y = M_PI * (m == 0 ? 1e-20 : kKbRolloff * x);  // np.sinc
      const double r = static_cast<double>(m) / static_cast<double>(n);
      const double taper = std::cyl_bessel_i(0.0, kKbBeta * std::sqrt(1.0 - r * r)) / i0_beta;
      w[static_cast<size_t>(m)] = taper * (kKbRolloff * (std::sin(y) / y));
    }
    return w;
  }();
  return win;
}

double kaiser(double x, double beta) {  // x in [-1, 1]
  const double t = 1.0 - x * x;
  if (t <= 0.0) return 0.0;
  return std::cyl_bessel_i(0.0, beta * std::sqrt(t)) / std::cyl_bessel_i(0.0, beta);
}

}  // namespace

// ref: librosa 0.9.2 core/audio.py resample (n_samples = ceil(n * ratio), fix_length);
// resampy 0.4.2 core.py resample and interpn.py _resample_loop.
std::vector<float> resample_kaiser_best(const float* x, int64_t n, int from_hz, int to_hz) {
  if (from_hz <= 0 || to_hz <= 0)
    fail("resample: rates must be positive, got ", from_hz, " -> ", to_hz);
  if (n < 0) fail("resample: negative length ", n);
  if (from_hz == to_hz) return std::vector<float>(x, x + n);
  const double ratio = static_cast<double>(to_hz) / from_hz;
  const auto n_librosa = static_cast<int64_t>(std::ceil(static_cast<double>(n) * ratio));
  const auto n_resampy =
      static_cast<int64_t>(static_cast<double>(n) * static_cast<double>(to_hz) / from_hz);
  if (n_resampy < 1) {
    fail("resample: ", n, " samples are too short to resample from ", from_hz, " to ", to_hz,
         " Hz");
  }
  const std::vector<double>& base = kaiser_best_window();
  const int64_t nwin = static_cast<int64_t>(base.size());
  std::vector<double> win = base;
  if (ratio < 1) {
    for (double& v : win) v *= ratio;
  }
  std::vector<double> delta(win.size());
  for (int64_t i = 0; i + 1 < nwin; ++i) delta[i] = win[i + 1] - win[i];
  delta.back() = 0.0;  // np.diff(..., append=win[-1])

  const double scale = std::min(1.0, ratio);
  const double time_increment = 1.0 / ratio;
  const auto index_step = static_cast<int64_t>(scale * static_cast<double>(kKbTable));
  std::vector<float> y(static_cast<size_t>(std::max(n_librosa, n_resampy)), 0.0f);
  for (int64_t t = 0; t < n_resampy; ++t) {
    const double time_register = static_cast<double>(t) * time_increment;
    const auto c = static_cast<int64_t>(time_register);
    // numba accumulates y[t] (float32) += float64 weight * x: rounded to float32 at every step.
    float acc = 0.0f;
    double frac = scale * (time_register - static_cast<double>(c));
    double index_frac = frac * static_cast<double>(kKbTable);
    auto offset = static_cast<int64_t>(index_frac);
    double eta = index_frac - static_cast<double>(offset);
    const int64_t i_max = std::min(c + 1, (nwin - offset) / index_step);
    for (int64_t i = 0; i < i_max; ++i) {
      const size_t k = static_cast<size_t>(offset + i * index_step);
      const double w = win[k] + eta * delta[k];
      acc = static_cast<float>(static_cast<double>(acc) + w * static_cast<double>(x[c - i]));
    }
    frac = scale - frac;
    index_frac = frac * static_cast<double>(kKbTable);
    offset = static_cast<int64_t>(index_frac);
    eta = index_frac - static_cast<double>(offset);
    const int64_t k_max = std::min(n - c - 1, (nwin - offset) / index_step);
    for (int64_t j = 0; j < k_max; ++j) {
      const size_t k = static_cast<size_t>(offset + j * index_step);
      const double w = win[k] + eta * delta[k];
      acc = static_cast<float>(static_cast<double>(acc) + w * static_cast<double>(x[c + j + 1]));
    }
    y[static_cast<size_t>(t)] = acc;
  }
  y.resize(static_cast<size_t>(n_librosa), 0.0f);  // fix_length: zero pad or trim
  return y;
}

namespace {

constexpr int kMaxPolyphase = 4096;

struct Polyphase {
  int64_t up = 1, down = 1;
  int half = 0;
};

Polyphase polyphase_of(const char* who, int from_hz, int to_hz, int zero_crossings) {
  if (from_hz <= 0 || to_hz <= 0)
    fail(who, ": rates must be positive, got ", from_hz, " -> ", to_hz);
  if (zero_crossings < 2 || zero_crossings > 256)
    fail(who, ": zero_crossings ", zero_crossings, " out of [2, 256]");
  const int64_t g = std::gcd(from_hz, to_hz);
  Polyphase p;
  p.up = to_hz / g;
  p.down = from_hz / g;
  if (p.up > kMaxPolyphase || p.down > kMaxPolyphase) {
    fail(who, ": ratio ", to_hz, "/", from_hz, " reduces to ", p.up, "/", p.down,
         ", too fine for the polyphase table (max ", kMaxPolyphase, ")");
  }
  const double scale = std::min(1.0, static_cast<double>(p.up) / static_cast<double>(p.down));
  p.half = static_cast<int>(std::ceil(zero_crossings / scale));
  return p;
}

// The Kaiser-windowed sinc table [up][2*half] (each phase normalised to unit DC gain); h: 2*half
// doubles of scratch. Row p, tap t weighs input center - half + 1 + t for an output whose input
// time is center + p / up.
void design_table(const Polyphase& pp, double* h, float* table) {
  const double scale = std::min(1.0, static_cast<double>(pp.up) / static_cast<double>(pp.down));
  constexpr double kRolloff = 0.94, kBeta = 8.6;
  const double cutoff = 0.5 * scale * kRolloff;  // cycles per input sample
  const int taps = 2 * pp.half;
  for (int64_t p = 0; p < pp.up; ++p) {
    double sum = 0.0;
    for (int t = 0; t < taps; ++t) {
      const double d = static_cast<double>(pp.half - 1 - t) + static_cast<double>(p) / pp.up;
      const double a = 2.0 * cutoff * d;
      const double sinc = std::fabs(a) < 1e-12 ? 1.0 : std::sin(M_PI * a) / (M_PI * a);
      h[t] = 2.0 * cutoff * sinc * kaiser(d / pp.half, kBeta);
      sum += h[t];
    }
    for (int t = 0; t < taps; ++t) table[p * taps + t] = static_cast<float>(h[t] / sum);
  }
}

}  // namespace

StreamResampler::StreamResampler(int from_hz, int to_hz, int max_block_frames, int zero_crossings) {
  const Polyphase pp = polyphase_of("StreamResampler", from_hz, to_hz, zero_crossings);
  if (max_block_frames <= 0) fail("StreamResampler: max_block_frames must be > 0");
  up_ = pp.up;
  down_ = pp.down;
  half_ = pp.half;
  max_block_ = max_block_frames;
  const int taps = 2 * half_;
  table_.assign(static_cast<size_t>(up_ * taps), 0.0f);
  std::vector<double> h(static_cast<size_t>(taps));
  design_table(pp, h.data(), table_.data());
  buf_.assign(static_cast<size_t>(max_block_ + 2 * taps + 2), 0.0f);
  reset();
}

void StreamResampler::reset() {
  std::fill(buf_.begin(), buf_.end(), 0.0f);
  // half_ leading zeros: input time 0 is buffer index half_; history before it is silence.
  len_ = half_;
  center_ = half_;
  phase_ = 0;
}

int64_t StreamResampler::max_output(int64_t n_in) const {
  // Outputs whose center lies before len_ + n_in - half_.
  const int64_t last = len_ + n_in - half_;  // exclusive bound on center index
  if (last <= center_) return 0;
  return ((last - center_) * up_ - phase_ + down_ - 1) / down_ + 1;
}

int64_t StreamResampler::process(const float* in, int64_t n_in, float* out, int64_t max_out) {
  const int taps = 2 * half_;
  int64_t n_out = 0;
  while (n_in > 0) {
    const int64_t chunk = std::min<int64_t>(n_in, max_block_);
    std::memcpy(buf_.data() + len_, in, static_cast<size_t>(chunk) * sizeof(float));
    len_ += chunk;
    in += chunk;
    n_in -= chunk;
    // An output is ready when taps center-half+1 .. center+half are all present.
    while (center_ + half_ < len_) {
      if (n_out < max_out) {
        const float* h = table_.data() + phase_ * taps;
        const float* x = buf_.data() + center_ - half_ + 1;
        float acc = 0.0f;
        for (int t = 0; t < taps; ++t) acc += h[t] * x[t];
        out[n_out] = acc;
        ++n_out;
      }
      phase_ += down_;
      center_ += phase_ / up_;
      phase_ %= up_;
    }
    // Keep only the history the next outputs need.
    const int64_t keep_from = std::min(center_ - half_ + 1, len_);
    if (keep_from > 0) {
      std::memmove(buf_.data(), buf_.data() + keep_from,
                   static_cast<size_t>(len_ - keep_from) * sizeof(float));
      len_ -= keep_from;
      center_ -= keep_from;
    }
  }
  return n_out;
}

// ---- BlockResampler ---------------------------------------------------------------------------

BlockResampler::BlockResampler(int from_hz, int to_hz, int64_t max_in_frames, int zero_crossings)
    : zero_crossings_(zero_crossings), max_in_(max_in_frames) {
  if (max_in_frames < 0) fail("BlockResampler: negative max_in_frames ", max_in_frames);
  reserve(from_hz, to_hz);
  set_rates(from_hz, to_hz);
}

void BlockResampler::reserve(int from_hz, int to_hz) {
  const Polyphase pp = polyphase_of("BlockResampler", from_hz, to_hz, zero_crossings_);
  const auto taps = static_cast<size_t>(2 * pp.half);
  if (table_.size() < static_cast<size_t>(pp.up) * taps) {
    table_.resize(static_cast<size_t>(pp.up) * taps);
  }
  if (h_.size() < taps) h_.resize(taps);
}

void BlockResampler::set_rates(int from_hz, int to_hz) {
  if (from_hz == from_ && to_hz == to_) return;
  reserve(from_hz, to_hz);  // allocates only for a pair larger than any reserved one
  const Polyphase pp = polyphase_of("BlockResampler", from_hz, to_hz, zero_crossings_);
  design_table(pp, h_.data(), table_.data());
  up_ = pp.up;
  down_ = pp.down;
  half_ = pp.half;
  from_ = from_hz;
  to_ = to_hz;
}

int64_t BlockResampler::output_frames(int64_t n_in) const {
  return static_cast<int64_t>(
      std::llround(static_cast<double>(n_in) * to_ / static_cast<double>(from_)));
}

int64_t BlockResampler::process(const float* x, int64_t n_in, float* out, int64_t max_out) const {
  n_in = std::min(std::max<int64_t>(n_in, 0), max_in_);
  const int64_t n_out = std::min(output_frames(n_in), max_out);
  if (from_ == to_) {
    std::copy(x, x + std::min(n_in, n_out), out);
    std::fill(out + std::min(n_in, n_out), out + n_out, 0.0f);
    return n_out;
  }
  const int taps = 2 * half_;
  for (int64_t j = 0; j < n_out; ++j) {
    // Input time of output j: center + phase / up.
    const int64_t num = j * down_;
    const int64_t center = num / up_, phase = num % up_;
    const float* h = table_.data() + phase * taps;
    const int64_t first = center - half_ + 1;  // input index of tap 0
    const int64_t t0 = std::max<int64_t>(0, -first);
    const int64_t t1 = std::min<int64_t>(taps, n_in - first);
    float acc = 0.0f;
    for (int64_t t = t0; t < t1; ++t) acc += h[t] * x[first + t];
    out[j] = acc;
  }
  return n_out;
}

}  // namespace rvc::dsp
