// tests/support/audio_checks.h: pitch measurements shared by the conversion tests.
#pragma once

#include <vector>

namespace rvc::test {

// Median over frames voiced in both (rvc::dsp::estimate_f0 at sample rate sr) of f0(y) / f0(x);
// x and y are mono, at the same rate and already aligned. Returns 0 when fewer than 20 frames are
// voiced in both.
double median_f0_ratio(const std::vector<float>& x, const std::vector<float>& y, int sr);

}  // namespace rvc::test
