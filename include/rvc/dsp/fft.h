// rvc/dsp/fft.h: a small real-input FFT in float64 (the STFT front ends of RMVPE and friends).
//
// RealFft(n) precomputes twiddles for one size. Power-of-two sizes (the only ones RVC uses:
// n_fft 1024 and friends) run an iterative radix-2 complex FFT of size n/2 plus the usual
// real-split step; any other size falls back to a direct O(n^2) DFT (correct, slow).
// forward() computes X[k] = sum_t x[t] * exp(-2*pi*i*k*t/n) for k = 0..n/2 (n/2+1 bins, the
// same convention as numpy.fft.rfft and torch.stft with onesided=True).
// Thread-safety: a constructed RealFft is immutable; forward() is const and reentrant as long as
// each caller passes its own work buffer. forward() does not allocate.
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

namespace rvc::dsp {

class RealFft {
 public:
  // Throws rvc::Error if n < 1 or n > 2^26.
  explicit RealFft(int n);

  int size() const { return n_; }
  int n_bins() const { return n_ / 2 + 1; }
  // Doubles of scratch forward() needs (as complex values: work_size() complex numbers).
  int work_size() const { return n_; }

  // x: n real samples. out: n_bins() values. work: work_size() complex values of scratch.
  void forward(const double* x, std::complex<double>* out, std::complex<double>* work) const;

  // Convenience form that allocates its own scratch (not for the real-time path).
  std::vector<std::complex<double>> forward(const std::vector<double>& x) const;

 private:
  void complex_fft_half(std::complex<double>* z) const;  // in place, size n/2, radix 2

  int n_ = 0;
  bool radix2_ = false;
  std::vector<std::complex<double>> twiddle_half_;  // exp(-2*pi*i*k/(n/2)), k < n/4
  std::vector<std::complex<double>> twiddle_full_;  // exp(-2*pi*i*k/n), k <= n/2
  std::vector<int> bitrev_;                         // bit reversal permutation of n/2
};

}  // namespace rvc::dsp
