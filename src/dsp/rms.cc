#include "rvc/dsp/rms.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

void check_frames(int64_t n, int frame_length, int hop) {
  if (n < 0 || frame_length < 1 || hop < 1) {
    fail("frame_rms: bad arguments n=", n, " frame_length=", frame_length, " hop=", hop);
  }
}

int64_t rms_frame_count(int64_t n, int frame_length, int hop) {
  const int64_t half = frame_length / 2;
  return 1 + (n + 2 * half - frame_length) / hop;
}

// Sum of squares of y over the padded frame [start, start+frame_length) (zeros outside y).
template <typename T, typename Square>
double frame_sum(const T* y, int64_t n, int64_t start, int frame_length, Square sq) {
  const int64_t lo = std::max<int64_t>(start, 0);
  const int64_t hi = std::min<int64_t>(start + frame_length, n);
  double s = 0.0;
  for (int64_t i = lo; i < hi; ++i) s += sq(y[i]);
  return s;
}

template <typename T>
std::vector<T> interp_impl(const T* x, int64_t in_n, int64_t out_n) {
  if (in_n < 1 || out_n < 0) fail("interp_linear: bad sizes in=", in_n, " out=", out_n);
  std::vector<T> out(static_cast<size_t>(out_n));
  // torch: scale = (scalar_t)in / out; src = scale*(i+0.5)-0.5 clamped at 0 (opmath = T here).
  const T scale = static_cast<T>(in_n) / static_cast<T>(out_n);
  for (int64_t i = 0; i < out_n; ++i) {
    T src = scale * (static_cast<T>(i) + static_cast<T>(0.5)) - static_cast<T>(0.5);
    if (src < 0) src = 0;
    const int64_t i0 = static_cast<int64_t>(src);
    const int64_t i1 = i0 + (i0 < in_n - 1 ? 1 : 0);
    const T l1 = std::min<T>(std::max<T>(src - static_cast<T>(i0), 0), 1);
    const T l0 = static_cast<T>(1) - l1;
    out[static_cast<size_t>(i)] = l0 * x[i0] + l1 * x[i1];
  }
  return out;
}

}  // namespace

// ref: librosa/feature/spectral.py (0.9.1), rms with y given
std::vector<double> frame_rms(const double* y, int64_t n, int frame_length, int hop) {
  check_frames(n, frame_length, hop);
  const int64_t frames = rms_frame_count(n, frame_length, hop);
  const int64_t half = frame_length / 2;
  std::vector<double> out(static_cast<size_t>(frames));
  for (int64_t f = 0; f < frames; ++f) {
    const double s = frame_sum(y, n, f * hop - half, frame_length, [](double v) { return v * v; });
    out[static_cast<size_t>(f)] = std::sqrt(s / frame_length);
  }
  return out;
}

std::vector<float> frame_rms(const float* y, int64_t n, int frame_length, int hop) {
  check_frames(n, frame_length, hop);
  const int64_t frames = rms_frame_count(n, frame_length, hop);
  const int64_t half = frame_length / 2;
  std::vector<float> out(static_cast<size_t>(frames));
  for (int64_t f = 0; f < frames; ++f) {
    const double s = frame_sum(y, n, f * hop - half, frame_length, [](float v) {
      return static_cast<double>(v * v);  // numpy squares in float32
    });
    const float mean = static_cast<float>(s) / static_cast<float>(frame_length);
    out[static_cast<size_t>(f)] = std::sqrt(mean);
  }
  return out;
}

std::vector<double> interp_linear(const double* x, int64_t in_n, int64_t out_n) {
  return interp_impl(x, in_n, out_n);
}
std::vector<float> interp_linear(const float* x, int64_t in_n, int64_t out_n) {
  return interp_impl(x, in_n, out_n);
}

// ref: infer/modules/vc/pipeline.py, change_rms
void change_rms(const double* data1, int64_t n1, int sr1, float* data2, int64_t n2, int sr2,
                double rate) {
  if (sr1 < 2 || sr2 < 2) fail("change_rms: sample rates ", sr1, ", ", sr2, " must be >= 2");
  if (n1 < 0 || n2 < 0) fail("change_rms: negative lengths");
  if (n2 == 0) return;
  const std::vector<double> rms1 = frame_rms(data1, n1, sr1 / 2 * 2, sr1 / 2);
  const std::vector<float> rms2 = frame_rms(data2, n2, sr2 / 2 * 2, sr2 / 2);
  const std::vector<double> r1 = interp_linear(rms1.data(), static_cast<int64_t>(rms1.size()), n2);
  const std::vector<float> r2 = interp_linear(rms2.data(), static_cast<int64_t>(rms2.size()), n2);
  // torch.tensor(1 - rate) is float32; pow(float64 tensor, float32 scalar) runs in float64 and
  // pow(float32, float32) in float32; their product is float64; numpy's in-place multiply
  // rounds the result back to float32.
  const double e1 = static_cast<double>(static_cast<float>(1.0 - rate));
  const float e2 = static_cast<float>(rate - 1.0);
  for (int64_t i = 0; i < n2; ++i) {
    const float r2c = std::max(r2[static_cast<size_t>(i)], 1e-6f);
    const double factor =
        std::pow(r1[static_cast<size_t>(i)], e1) * static_cast<double>(std::pow(r2c, e2));
    data2[i] = static_cast<float>(static_cast<double>(data2[i]) * factor);
  }
}

}  // namespace rvc::dsp
