#include "rvc/audio/delay.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rvc::audio {
namespace {

std::vector<double> envelope(const float* x, int64_t n, int64_t hop) {
  const int64_t win = 5 * hop, frames = n / hop;
  std::vector<double> e(static_cast<size_t>(std::max<int64_t>(frames, 0)));
  for (int64_t f = 0; f < frames; ++f) {
    const int64_t a = std::max<int64_t>(0, f * hop + hop / 2 - win / 2);
    const int64_t b = std::min(n, a + win);
    double s = 0.0;
    for (int64_t i = a; i < b; ++i) s += static_cast<double>(x[i]) * x[i];
    e[static_cast<size_t>(f)] = std::log(1e-6 + std::sqrt(s / static_cast<double>(b - a)));
  }
  double mean = 0.0;
  for (double v : e) mean += v;
  if (!e.empty()) mean /= static_cast<double>(e.size());
  for (double& v : e) v -= mean;
  return e;
}

}  // namespace

double measure_delay_s(const float* x, int64_t nx, const float* y, int64_t ny, int sample_rate,
                       double max_delay_s, double* corr) {
  if (corr) *corr = 0.0;
  const int64_t hop = std::max(1, sample_rate / 1000);
  const auto ex = envelope(x, nx, hop), ey = envelope(y, ny, hop);
  const int64_t max_lag = static_cast<int64_t>(max_delay_s * 1000.0);
  const int64_t n = static_cast<int64_t>(std::min(ex.size(), ey.size()));
  if (n < 50) return -1.0;
  double best = -2.0;
  int64_t best_lag = 0;
  for (int64_t lag = 0; lag <= max_lag && lag < n - 25; ++lag) {
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (int64_t t = lag; t < n; ++t) {
      const double a = ex[static_cast<size_t>(t - lag)], b = ey[static_cast<size_t>(t)];
      xy += a * b;
      xx += a * a;
      yy += b * b;
    }
    const double r = xy / std::sqrt(xx * yy + 1e-30);
    if (r > best) {
      best = r;
      best_lag = lag;
    }
  }
  if (corr) *corr = best;
  if (best < 0.3) return -1.0;
  return static_cast<double>(best_lag * hop) / sample_rate;
}

}  // namespace rvc::audio
