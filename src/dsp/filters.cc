#include "rvc/dsp/filters.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

using cd = std::complex<double>;

// numpy.poly: coefficients of prod(x - r), built by successive convolution in the roots' order.
std::vector<cd> poly(const std::vector<cd>& roots) {
  std::vector<cd> c{1.0};
  for (const cd& r : roots) {
    std::vector<cd> next(c.size() + 1, 0.0);
    for (size_t i = 0; i < c.size(); ++i) {
      next[i] += c[i];
      next[i + 1] += -r * c[i];
    }
    c = std::move(next);
  }
  return c;
}

// Solves A x = rhs (n x n, row-major) by Gaussian elimination with partial pivoting (LAPACK's
// gesv does the same LU factorisation).
std::vector<double> solve(std::vector<double> a, std::vector<double> rhs, int n) {
  for (int col = 0; col < n; ++col) {
    int piv = col;
    for (int r = col + 1; r < n; ++r) {
      if (std::abs(a[r * n + col]) > std::abs(a[piv * n + col])) piv = r;
    }
    if (a[piv * n + col] == 0.0) fail("lfilter_zi: singular system (filter has a pole at z=1)");
    if (piv != col) {
      for (int k = 0; k < n; ++k) std::swap(a[col * n + k], a[piv * n + k]);
      std::swap(rhs[col], rhs[piv]);
    }
    for (int r = col + 1; r < n; ++r) {
      const double factor = a[r * n + col] / a[col * n + col];
      if (factor == 0.0) continue;
      for (int k = col; k < n; ++k) a[r * n + k] -= factor * a[col * n + k];
      rhs[r] -= factor * rhs[col];
    }
  }
  std::vector<double> x(static_cast<size_t>(n));
  for (int r = n - 1; r >= 0; --r) {
    double s = rhs[r];
    for (int k = r + 1; k < n; ++k) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

}  // namespace

// ref: scipy/signal/_filter_design.py, iirfilter + buttap + lp2lp_zpk/lp2hp_zpk + bilinear_zpk
IirCoeffs butter(int order, double cutoff_hz, FilterType type, double fs_hz) {
  if (order < 1 || order > 32) fail("butter: order ", order, " must be in [1, 32]");
  if (!(fs_hz > 0) || !(cutoff_hz > 0) || !(cutoff_hz < fs_hz / 2)) {
    fail("butter: cutoff ", cutoff_hz, " Hz must be in (0, fs/2) with fs = ", fs_hz);
  }
  // Analog prototype: no zeros, poles -exp(i*pi*m/(2N)) for m = -N+1, -N+3, ..., N-1; gain 1.
  std::vector<cd> p;
  for (int m = -order + 1; m < order; m += 2) {
    p.push_back(-std::exp(cd(0.0, std::numbers::pi * m / (2.0 * order))));
  }
  std::vector<cd> z;
  double k = 1.0;

  const double wn = 2.0 * cutoff_hz / fs_hz;  // normalised to Nyquist
  const double fs = 2.0;
  const double warped = 2.0 * fs * std::tan(std::numbers::pi * wn / fs);
  const int degree = static_cast<int>(p.size() - z.size());
  if (type == FilterType::kLowPass) {
    for (cd& r : p) r = warped * r;
    k = k * std::pow(warped, degree);
  } else {
    cd prod_p = 1.0;
    for (const cd& r : p) prod_p *= -r;
    for (cd& r : p) r = warped / r;
    k = k * (cd(1.0) / prod_p).real();
    z.assign(static_cast<size_t>(degree), 0.0);
  }

  const double fs2 = 2.0 * fs;
  cd num = 1.0, den = 1.0;
  for (const cd& r : z) num *= fs2 - r;
  for (const cd& r : p) den *= fs2 - r;
  std::vector<cd> zz, pz;
  for (const cd& r : z) zz.push_back((fs2 + r) / (fs2 - r));
  for (const cd& r : p) pz.push_back((fs2 + r) / (fs2 - r));
  for (size_t i = z.size(); i < p.size(); ++i) zz.push_back(-1.0);
  const double kz = k * (num / den).real();

  // zpk2tf: b = k*poly(z), a = poly(p); the roots come in conjugate pairs, so keep real parts.
  const std::vector<cd> bz = poly(zz), az = poly(pz);
  IirCoeffs out;
  for (const cd& c : bz) out.b.push_back(kz * c.real());
  for (const cd& c : az) out.a.push_back(c.real());
  return out;
}

const IirCoeffs& rvc_highpass_16k() {
  static const IirCoeffs kCoeffs = butter(5, 48.0, FilterType::kHighPass, 16000.0);
  return kCoeffs;
}

// ref: scipy/signal/_lfilter.c.src (via lfilter), direct form II transposed
void lfilter(const IirCoeffs& f, const double* x, int64_t n, double* y, double* state) {
  if (f.a.empty() || f.b.empty() || f.a[0] == 0.0) fail("lfilter: a[0] must be non-zero");
  const size_t order = std::max(f.a.size(), f.b.size());
  std::vector<double> b(order, 0.0), a(order, 0.0);
  for (size_t i = 0; i < f.b.size(); ++i) b[i] = f.b[i] / f.a[0];
  for (size_t i = 0; i < f.a.size(); ++i) a[i] = f.a[i] / f.a[0];
  std::vector<double> zero;
  double* zs = state;
  if (zs == nullptr) {
    zero.assign(order - 1, 0.0);
    zs = zero.data();
  }
  for (int64_t t = 0; t < n; ++t) {
    const double xn = x[t];
    if (order == 1) {
      y[t] = b[0] * xn;
      continue;
    }
    const double yn = zs[0] + b[0] * xn;
    for (size_t k = 0; k + 2 < order; ++k) zs[k] = zs[k + 1] + xn * b[k + 1] - yn * a[k + 1];
    zs[order - 2] = xn * b[order - 1] - yn * a[order - 1];
    y[t] = yn;
  }
}

// ref: scipy/signal/_signaltools.py, lfilter_zi
std::vector<double> lfilter_zi(const IirCoeffs& f) {
  if (f.a.empty() || f.b.empty() || f.a[0] == 0.0) fail("lfilter_zi: a[0] must be non-zero");
  const int n = static_cast<int>(std::max(f.a.size(), f.b.size()));
  std::vector<double> b(static_cast<size_t>(n), 0.0), a(static_cast<size_t>(n), 0.0);
  for (size_t i = 0; i < f.b.size(); ++i) b[i] = f.b[i] / f.a[0];
  for (size_t i = 0; i < f.a.size(); ++i) a[i] = f.a[i] / f.a[0];
  if (n == 1) return {};
  const int m = n - 1;
  // I - companion(a).T: first column a[1..], identity diagonal, -1 on the superdiagonal.
  std::vector<double> mat(static_cast<size_t>(m * m), 0.0);
  for (int r = 0; r < m; ++r) {
    mat[r * m + r] = 1.0;
    mat[r * m + 0] += a[r + 1];
    if (r + 1 < m) mat[r * m + r + 1] -= 1.0;
  }
  std::vector<double> rhs(static_cast<size_t>(m));
  for (int r = 0; r < m; ++r) rhs[r] = b[r + 1] - a[r + 1] * b[0];
  return solve(std::move(mat), std::move(rhs), m);
}

// ref: scipy/signal/_signaltools.py, filtfilt (padtype='odd', method='pad') + _arraytools.odd_ext
std::vector<double> filtfilt(const IirCoeffs& f, const double* x, int64_t n) {
  const int64_t edge = 3 * static_cast<int64_t>(std::max(f.a.size(), f.b.size()));
  if (n <= edge) {
    fail("filtfilt: input of ", n, " samples must be longer than padlen ", edge);
  }
  const int64_t n_ext = n + 2 * edge;
  std::vector<double> ext(static_cast<size_t>(n_ext));
  for (int64_t i = 0; i < edge; ++i) ext[i] = 2.0 * x[0] - x[edge - i];
  std::copy(x, x + n, ext.begin() + edge);
  for (int64_t i = 0; i < edge; ++i) ext[edge + n + i] = 2.0 * x[n - 1] - x[n - 2 - i];

  const std::vector<double> zi = lfilter_zi(f);
  std::vector<double> state(zi.size());
  std::vector<double> y(static_cast<size_t>(n_ext));
  for (size_t i = 0; i < zi.size(); ++i) state[i] = zi[i] * ext[0];
  lfilter(f, ext.data(), n_ext, y.data(), state.data());

  std::reverse(y.begin(), y.end());
  for (size_t i = 0; i < zi.size(); ++i) state[i] = zi[i] * y[0];
  lfilter(f, y.data(), n_ext, ext.data(), state.data());
  std::reverse(ext.begin(), ext.end());
  return std::vector<double>(ext.begin() + edge, ext.begin() + edge + n);
}

std::vector<double> filtfilt(const IirCoeffs& f, const float* x, int64_t n) {
  const std::vector<double> xd(x, x + std::max<int64_t>(n, 0));
  return filtfilt(f, xd.data(), n);
}

// ref: scipy/signal/_signaltools.py, medfilt (order filter with zero padding)
std::vector<double> medfilt(const double* x, int64_t n, int kernel) {
  if (kernel < 1 || kernel % 2 == 0) fail("medfilt: kernel size ", kernel, " must be odd and >= 1");
  const int half = kernel / 2;
  std::vector<double> out(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::vector<double> win(static_cast<size_t>(kernel));
  for (int64_t t = 0; t < n; ++t) {
    for (int k = 0; k < kernel; ++k) {
      const int64_t j = t + k - half;
      win[static_cast<size_t>(k)] = (j < 0 || j >= n) ? 0.0 : x[j];
    }
    std::nth_element(win.begin(), win.begin() + half, win.end());
    out[static_cast<size_t>(t)] = win[static_cast<size_t>(half)];
  }
  return out;
}

}  // namespace rvc::dsp
