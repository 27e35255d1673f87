// tests/support/audio_checks.cc: see audio_checks.h.
#include "support/audio_checks.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "rvc/dsp/f0.h"

namespace rvc::test {

double median_f0_ratio(const std::vector<float>& x, const std::vector<float>& y, int sr) {
  dsp::F0Config cfg;
  cfg.sample_rate = sr;
  const auto fx = dsp::estimate_f0(x, cfg), fy = dsp::estimate_f0(y, cfg);
  std::vector<double> r;
  for (size_t i = 0; i < std::min(fx.size(), fy.size()); ++i) {
    if (fx[i] > 0 && fy[i] > 0) r.push_back(fy[i] / fx[i]);
  }
  if (r.size() < 20) return 0.0;
  std::nth_element(r.begin(), r.begin() + static_cast<int64_t>(r.size() / 2), r.end());
  return r[r.size() / 2];
}

double roughness(const std::vector<float>& y, int64_t t, int sr, double min_rms) {
  const int64_t h = sr / 200;
  if (t - h < 0 || t + h >= static_cast<int64_t>(y.size())) return -1.0;
  double e = 0.0;
  for (int64_t i = t - h; i < t + h; ++i) e += double(y[size_t(i)]) * y[size_t(i)];
  const double rms = std::sqrt(e / double(2 * h));
  if (rms < min_rms) return -1.0;
  return std::abs(double(y[size_t(t + 1)]) - 2.0 * y[size_t(t)] + y[size_t(t - 1)]) / rms;
}

}  // namespace rvc::test
