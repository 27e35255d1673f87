#include "rvc/dsp/pitch_decode.h"

#include <cmath>

#include "rvc/core/error.h"

namespace rvc::dsp {

// ref: infer/lib/rmvpe.py, RMVPE.to_local_average_cents + RMVPE.decode
std::vector<double> rmvpe_decode(const float* salience, int64_t n_frames, int n_bins,
                                 float threshold) {
  if (n_bins < 1 || n_frames < 0) {
    fail("rmvpe_decode: bad salience shape [", n_frames, ", ", n_bins, "]");
  }
  std::vector<double> f0(static_cast<size_t>(n_frames), 0.0);
  rmvpe_decode_into(salience, n_frames, n_bins, threshold, f0.data());
  return f0;
}

void rmvpe_decode_into(const float* salience, int64_t n_frames, int n_bins, float threshold,
                       double* f0) {
  if (n_bins < 1 || n_frames < 0) {
    fail("rmvpe_decode: bad salience shape [", n_frames, ", ", n_bins, "]");
  }
  for (int64_t t = 0; t < n_frames; ++t) {
    const float* row = salience + t * n_bins;
    int center = 0;  // np.argmax: first maximum
    for (int i = 1; i < n_bins; ++i) {
      if (row[i] > row[center]) center = i;
    }
    f0[t] = 0.0;
    if (!(row[center] > threshold)) continue;  // unvoiced (also catches NaN rows)
    double product_sum = 0.0;
    float weight_sum = 0.0f;  // numpy sums the float32 window in float32
    for (int i = center - 4; i <= center + 4; ++i) {
      if (i < 0 || i >= n_bins) continue;
      product_sum += static_cast<double>(row[i]) * (20.0 * i + kRmvpeCents0);
      weight_sum += row[i];
    }
    const double cents = product_sum / static_cast<double>(weight_sum);
    const double hz = 10.0 * std::pow(2.0, cents / 1200.0);
    f0[t] = hz == 10.0 ? 0.0 : hz;
  }
}

}  // namespace rvc::dsp
