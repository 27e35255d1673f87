// rvc/dsp/stft.h: magnitude STFT with torch.stft semantics (center, reflect padding, onesided).
//
// Matches torch.stft(x, n_fft, hop_length, win_length, window=hann_window(win_length),
// center=True, pad_mode="reflect", return_complex=True).abs() as used by RMVPE's
// MelSpectrogram (ref: infer/lib/rmvpe.py, MelSpectrogram.forward). Computed in float64.
// Layout of every output: [n_bins, n_frames] row-major (bin-major, like torch), with
// n_bins = n_fft/2+1 and n_frames = 1 + n/hop (center) or 1 + (n-n_fft)/hop (no center).
// Thread-safety: a constructed Stft is immutable; magnitude() is const and reentrant.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

#include "rvc/dsp/fft.h"

namespace rvc::dsp {

// torch.hann_window(n, periodic): 0.5 - 0.5*cos(2*pi*k/M), M = n (periodic) or n-1 (symmetric).
std::vector<double> hann_window(int n, bool periodic = true);

class Stft {
 public:
  // Throws rvc::Error unless 1 <= win_length <= n_fft and hop >= 1. The hann window of
  // win_length is zero-padded to n_fft in the centre, as torch.stft does.
  Stft(int n_fft, int hop, int win_length);

  int n_fft() const { return n_fft_; }
  int hop() const { return hop_; }
  int n_bins() const { return n_fft_ / 2 + 1; }
  // Frames for n samples; 0 when the input is too short (no center and n < n_fft).
  int64_t n_frames(int64_t n_samples, bool center) const;

  // |STFT| of x[0..n) into out[n_bins * n_frames] (row-major [bin][frame]). With center the
  // signal is reflect-padded by n_fft/2 on both sides, which needs n > n_fft/2 (torch refuses
  // shorter inputs too): throws rvc::Error otherwise. Allocates per-call scratch.
  void magnitude(const float* x, int64_t n, bool center, double* out) const;
  // Per-caller scratch of magnitude(): sized on first use, then reused without allocation.
  struct Scratch {
    std::vector<double> frame;
    std::vector<std::complex<double>> spec, work;
  };
  void magnitude(const float* x, int64_t n, bool center, double* out, Scratch& s) const;
  std::vector<double> magnitude(const std::vector<float>& x, bool center) const;

 private:
  int n_fft_, hop_, win_length_;
  std::vector<double> window_;  // n_fft long, centred hann
  RealFft fft_;
};

}  // namespace rvc::dsp
