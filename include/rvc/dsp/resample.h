// rvc/dsp/resample.h: high-quality sample-rate conversion (libsoxr, VHQ), offline and streaming.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::dsp {

// Offline: converts a whole signal. Output length is round(n * to_hz / from_hz). Throws
// rvc::Error on non-positive rates.
std::vector<float> resample(const float* x, int64_t n, int from_hz, int to_hz);
inline std::vector<float> resample(const std::vector<float>& x, int from_hz, int to_hz) {
  return resample(x.data(), static_cast<int64_t>(x.size()), from_hz, to_hz);
}

}  // namespace rvc::dsp
