#include "rvc/dsp/stft.h"

#include <cmath>
#include <complex>
#include <numbers>

#include "rvc/core/error.h"

namespace rvc::dsp {

std::vector<double> hann_window(int n, bool periodic) {
  if (n < 1) fail("hann_window: length ", n, " must be >= 1");
  if (n == 1) return {1.0};
  const double m = periodic ? n : n - 1;
  std::vector<double> w(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) {
    w[static_cast<size_t>(k)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * k / m);
  }
  return w;
}

Stft::Stft(int n_fft, int hop, int win_length)
    : n_fft_(n_fft), hop_(hop), win_length_(win_length), fft_(n_fft) {
  if (hop < 1) fail("Stft: hop ", hop, " must be >= 1");
  if (win_length < 1 || win_length > n_fft) {
    fail("Stft: win_length ", win_length, " must be in [1, n_fft=", n_fft, "]");
  }
  window_.assign(static_cast<size_t>(n_fft), 0.0);
  const std::vector<double> w = hann_window(win_length, true);
  const int left = (n_fft - win_length) / 2;  // torch pads the window in the centre
  for (int i = 0; i < win_length; ++i)
    window_[static_cast<size_t>(left + i)] = w[static_cast<size_t>(i)];
}

int64_t Stft::n_frames(int64_t n_samples, bool center) const {
  if (n_samples < 0) return 0;
  if (center) return 1 + n_samples / hop_;
  if (n_samples < n_fft_) return 0;
  return 1 + (n_samples - n_fft_) / hop_;
}

void Stft::magnitude(const float* x, int64_t n, bool center, double* out) const {
  Scratch s;
  magnitude(x, n, center, out, s);
}

void Stft::magnitude(const float* x, int64_t n, bool center, double* out, Scratch& s) const {
  const int64_t pad = center ? n_fft_ / 2 : 0;
  if (center && n <= pad) {
    fail("Stft: input of ", n, " samples is too short for reflect padding by ", pad,
         " (need more than ", pad, ")");
  }
  const int64_t frames = n_frames(n, center);
  const int bins = n_bins();
  s.frame.resize(static_cast<size_t>(n_fft_));
  s.spec.resize(static_cast<size_t>(bins));
  s.work.resize(static_cast<size_t>(fft_.work_size()));
  double* frame = s.frame.data();
  std::complex<double>* spec = s.spec.data();
  for (int64_t f = 0; f < frames; ++f) {
    const int64_t start = f * hop_ - pad;  // index into x of the frame's first sample
    for (int i = 0; i < n_fft_; ++i) {
      int64_t j = start + i;
      // numpy/torch "reflect": mirror about the end samples without repeating them.
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      frame[static_cast<size_t>(i)] = static_cast<double>(x[j]) * window_[static_cast<size_t>(i)];
    }
    fft_.forward(frame, spec, s.work.data());
    // sqrt(re^2 + im^2) as upstream writes it (torch.sqrt(real.pow(2) + imag.pow(2))): in double
    // it cannot overflow for audio, and it is several times cheaper than std::abs's hypot.
    for (int k = 0; k < bins; ++k) {
      const std::complex<double> z = spec[static_cast<size_t>(k)];
      out[k * frames + f] = std::sqrt(z.real() * z.real() + z.imag() * z.imag());
    }
  }
}

std::vector<double> Stft::magnitude(const std::vector<float>& x, bool center) const {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<double> out(static_cast<size_t>(n_bins() * n_frames(n, center)));
  magnitude(x.data(), n, center, out.data());
  return out;
}

}  // namespace rvc::dsp
