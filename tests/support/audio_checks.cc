// tests/support/audio_checks.cc: see audio_checks.h.
#include "support/audio_checks.h"

#include <algorithm>
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

}  // namespace rvc::test
