// rvc/dsp/pitch_decode.h: RMVPE salience -> f0 (local weighted average of cents).
//
// ref: infer/lib/rmvpe.py, RMVPE.decode and RMVPE.to_local_average_cents. For each frame:
// the argmax bin c of the salience row, the 9 bins c-4..c+4 (bins outside 0..n_bins-1 count as
// salience 0), cents = sum(s_i * cents_i) / sum(s_i) with cents_i = kRmvpeCents0 + 20*i, and
// f0 = 10 * 2^(cents/1200) Hz; a frame whose max salience is <= threshold (compared in float32,
// as numpy does for a float32 array against a Python float) gets f0 = 0. Upstream computes in
// float64 and so does this; f0 is returned as float64.
// Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::dsp {

inline constexpr double kRmvpeCents0 = 1997.3794084376191;
inline constexpr int kRmvpeBins = 360;

// salience: [n_frames, n_bins] row-major. Throws rvc::Error if n_bins < 1 or n_frames < 0.
std::vector<double> rmvpe_decode(const float* salience, int64_t n_frames, int n_bins = kRmvpeBins,
                                 float threshold = 0.03f);
// As rmvpe_decode, into f0 [n_frames] (caller-owned); allocates nothing.
void rmvpe_decode_into(const float* salience, int64_t n_frames, int n_bins, float threshold,
                       double* f0);

}  // namespace rvc::dsp
