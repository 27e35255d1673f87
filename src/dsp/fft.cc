#include "rvc/dsp/fft.h"

#include <cmath>
#include <numbers>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

// exp(-2*pi*i*k/n) with the angle reduced first so that large k keeps full precision.
std::complex<double> unit_root(int64_t k, int64_t n) {
  const double angle =
      -2.0 * std::numbers::pi * static_cast<double>(k % n) / static_cast<double>(n);
  return {std::cos(angle), std::sin(angle)};
}

}  // namespace

RealFft::RealFft(int n) : n_(n) {
  if (n < 1 || n > (1 << 26)) fail("RealFft: size ", n, " out of range [1, 2^26]");
  radix2_ = is_pow2(n) && n >= 4;
  if (!radix2_) {
    twiddle_full_.resize(static_cast<size_t>(n));
    for (int k = 0; k < n; ++k) twiddle_full_[static_cast<size_t>(k)] = unit_root(k, n);
    return;
  }
  const int m = n / 2;
  twiddle_half_.resize(static_cast<size_t>(m / 2));
  for (int k = 0; k < m / 2; ++k) twiddle_half_[static_cast<size_t>(k)] = unit_root(k, m);
  twiddle_full_.resize(static_cast<size_t>(m + 1));
  for (int k = 0; k <= m; ++k) twiddle_full_[static_cast<size_t>(k)] = unit_root(k, n);
  bitrev_.resize(static_cast<size_t>(m));
  int bits = 0;
  while ((1 << bits) < m) ++bits;
  for (int i = 0; i < m; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev_[static_cast<size_t>(i)] = r;
  }
}

void RealFft::complex_fft_half(std::complex<double>* z) const {
  const int m = n_ / 2;
  for (int i = 0; i < m; ++i) {
    const int r = bitrev_[static_cast<size_t>(i)];
    if (r > i) std::swap(z[i], z[r]);
  }
  for (int len = 2; len <= m; len <<= 1) {
    const int half = len / 2;
    const int stride = m / len;  // twiddle index step in the size-m table
    for (int start = 0; start < m; start += len) {
      for (int j = 0; j < half; ++j) {
        const std::complex<double> t =
            twiddle_half_[static_cast<size_t>(j * stride)] * z[start + j + half];
        z[start + j + half] = z[start + j] - t;
        z[start + j] += t;
      }
    }
  }
}

void RealFft::forward(const double* x, std::complex<double>* out,
                      std::complex<double>* work) const {
  if (!radix2_) {
    for (int k = 0; k <= n_ / 2; ++k) {
      std::complex<double> acc = 0.0;
      for (int t = 0; t < n_; ++t) {
        acc += x[t] * twiddle_full_[static_cast<size_t>((static_cast<int64_t>(k) * t) % n_)];
      }
      out[k] = acc;
    }
    return;
  }
  // Pack even/odd samples as one complex signal of half length, transform, then split.
  const int m = n_ / 2;
  for (int i = 0; i < m; ++i) work[i] = {x[2 * i], x[2 * i + 1]};
  complex_fft_half(work);
  for (int k = 0; k <= m; ++k) {
    const std::complex<double> zk = work[k == m ? 0 : k];
    const std::complex<double> zc = std::conj(work[k == 0 ? 0 : m - k]);
    const std::complex<double> even = 0.5 * (zk + zc);
    const std::complex<double> odd = std::complex<double>(0.0, -0.5) * (zk - zc);
    out[k] = even + twiddle_full_[static_cast<size_t>(k)] * odd;
  }
}

std::vector<std::complex<double>> RealFft::forward(const std::vector<double>& x) const {
  if (static_cast<int64_t>(x.size()) != n_) {
    fail("RealFft::forward: expected ", n_, " samples, got ", x.size());
  }
  std::vector<std::complex<double>> out(static_cast<size_t>(n_bins()));
  std::vector<std::complex<double>> work(static_cast<size_t>(work_size()));
  forward(x.data(), out.data(), work.data());
  return out;
}

}  // namespace rvc::dsp
