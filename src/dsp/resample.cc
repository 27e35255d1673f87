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

double kaiser(double x, double beta) {  // x in [-1, 1]
  const double t = 1.0 - x * x;
  if (t <= 0.0) return 0.0;
  return std::cyl_bessel_i(0.0, beta * std::sqrt(t)) / std::cyl_bessel_i(0.0, beta);
}

}  // namespace

StreamResampler::StreamResampler(int from_hz, int to_hz, int max_block_frames, int zero_crossings) {
  if (from_hz <= 0 || to_hz <= 0)
    fail("StreamResampler: rates must be positive, got ", from_hz, " -> ", to_hz);
  if (max_block_frames <= 0) fail("StreamResampler: max_block_frames must be > 0");
  if (zero_crossings < 2 || zero_crossings > 256)
    fail("StreamResampler: zero_crossings ", zero_crossings, " out of [2, 256]");
  const int64_t g = std::gcd(from_hz, to_hz);
  up_ = to_hz / g;
  down_ = from_hz / g;
  if (up_ > 4096 || down_ > 4096) {
    fail("StreamResampler: ratio ", to_hz, "/", from_hz, " reduces to ", up_, "/", down_,
         ", too fine for the polyphase table (max 4096)");
  }
  max_block_ = max_block_frames;
  const double scale = std::min(1.0, static_cast<double>(up_) / static_cast<double>(down_));
  constexpr double kRolloff = 0.94, kBeta = 8.6;
  const double cutoff = 0.5 * scale * kRolloff;  // cycles per input sample
  half_ = static_cast<int>(std::ceil(zero_crossings / scale));
  const int taps = 2 * half_;
  table_.assign(static_cast<size_t>(up_ * taps), 0.0f);
  for (int64_t p = 0; p < up_; ++p) {
    double sum = 0.0;
    std::vector<double> h(static_cast<size_t>(taps));
    for (int t = 0; t < taps; ++t) {
      // Distance from the output's input-time to buffer tap t (center - half + 1 + t).
      const double d = static_cast<double>(half_ - 1 - t) + static_cast<double>(p) / up_;
      const double a = 2.0 * cutoff * d;
      const double sinc = std::fabs(a) < 1e-12 ? 1.0 : std::sin(M_PI * a) / (M_PI * a);
      h[t] = 2.0 * cutoff * sinc * kaiser(d / half_, kBeta);
      sum += h[t];
    }
    for (int t = 0; t < taps; ++t) table_[p * taps + t] = static_cast<float>(h[t] / sum);
  }
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

}  // namespace rvc::dsp
