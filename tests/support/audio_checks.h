// tests/support/audio_checks.h: pitch measurements shared by the conversion tests.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::test {

// Median over frames voiced in both (rvc::dsp::estimate_f0 at sample rate sr) of f0(y) / f0(x);
// x and y are mono, at the same rate and already aligned. Returns 0 when fewer than 20 frames are
// voiced in both.
double median_f0_ratio(const std::vector<float>& x, const std::vector<float>& y, int sr);

// Click measure at sample t: |second difference| / local RMS (10 ms around t), so loud and quiet
// passages count alike; -1 when the 10 ms around t are too quiet to judge (RMS < min_rms) or t is
// too near an end. A step (click) in a band-limited signal makes it jump.
double roughness(const std::vector<float>& y, int64_t t, int sr, double min_rms = 0.02);

}  // namespace rvc::test
