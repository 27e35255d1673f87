// rvc/dsp/filters.h: IIR design and zero-phase filtering with scipy.signal semantics, and the
// median filter. All in float64, as scipy computes them.
//
// - butter(): scipy.signal.butter(N, Wn, btype, fs) -> (b, a): analog Butterworth prototype,
//   lp2lp/lp2hp with the pre-warped frequency, bilinear transform (fs=2), zpk -> polynomial,
//   in the same order of operations as scipy 1.10, so coefficients agree to ~1e-15.
// - lfilter(): direct form II transposed (scipy.signal.lfilter), optional initial state.
// - lfilter_zi(): steady-state initial state for a unit step (scipy.signal.lfilter_zi).
// - filtfilt(): scipy.signal.filtfilt with its defaults: padtype='odd',
//   padlen = 3*max(len(a), len(b)), method='pad', zi scaled by the first sample of each pass.
// - medfilt(): scipy.signal.medfilt on 1-D input (zero padding at the edges, odd kernel).
// The upstream pipeline's high-pass is butter(5, 48, kHighPass, 16000)
// (ref: infer/modules/vc/pipeline.py, module-level bh, ah). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::dsp {

struct IirCoeffs {
  std::vector<double> b;  // numerator, b[0] first
  std::vector<double> a;  // denominator, a[0] == 1 after design
};

enum class FilterType { kLowPass, kHighPass };

// order >= 1 (<= 32); 0 < cutoff_hz < fs_hz/2. Throws rvc::Error otherwise.
IirCoeffs butter(int order, double cutoff_hz, FilterType type, double fs_hz);

// The upstream RVC pipeline's 5th-order 48 Hz high-pass at 16 kHz.
const IirCoeffs& rvc_highpass_16k();

// y = lfilter(b, a, x, zi): state has max(len(a),len(b))-1 values and is updated in place to the
// final state (zf). state may be null for zero initial conditions. a[0] must be non-zero.
void lfilter(const IirCoeffs& f, const double* x, int64_t n, double* y, double* state);

// scipy.signal.lfilter_zi(b, a): max(len(a),len(b))-1 values.
std::vector<double> lfilter_zi(const IirCoeffs& f);

// scipy.signal.filtfilt(b, a, x) with default arguments. Needs n > 3*max(len(a),len(b))
// (scipy's own requirement); throws rvc::Error otherwise.
std::vector<double> filtfilt(const IirCoeffs& f, const float* x, int64_t n);
std::vector<double> filtfilt(const IirCoeffs& f, const double* x, int64_t n);

// scipy.signal.medfilt(x, kernel) for 1-D x: odd kernel >= 1, zeros beyond the edges.
std::vector<double> medfilt(const double* x, int64_t n, int kernel = 3);

}  // namespace rvc::dsp
