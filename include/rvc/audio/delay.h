// rvc/audio/delay.h: measuring the delay between a signal and a processed copy of it.
#pragma once

#include <cstdint>

namespace rvc::audio {

// Delay of y against x in seconds, found as the lag in [0, max_delay_s] that maximises the
// normalised cross-correlation of their loudness envelopes (RMS over 5 ms windows every 1 ms,
// log-compressed, mean removed), so it works when y's pitch or timbre differ from x's.
// Resolution 1 ms. Returns -1 when either signal is too short or silent, or the best
// correlation is below 0.3 (no credible alignment). *corr (optional) gets that correlation.
double measure_delay_s(const float* x, int64_t nx, const float* y, int64_t ny, int sample_rate,
                       double max_delay_s, double* corr = nullptr);

}  // namespace rvc::audio
