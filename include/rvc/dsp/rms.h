// rvc/dsp/rms.h: frame RMS (librosa.feature.rms), torch-style linear interpolation, and the
// upstream pipeline's loudness matching change_rms.
//
// - frame_rms(): librosa 0.9.1 feature.rms(y, frame_length, hop_length, center=True,
//   pad_mode="constant"): zero-pad frame_length/2 on both sides, frames every hop, sqrt of the
//   mean square. n_frames = 1 + (n + 2*(frame_length/2) - frame_length) / hop. The double
//   overload computes in float64; the float overload rounds like numpy on a float32 array
//   (squares, mean and sqrt in float32; the sum itself is accumulated in float64).
// - interp_linear(): torch.nn.functional.interpolate(mode="linear", align_corners=False) of a
//   1-D signal to out_n samples, in the input's precision (as torch's CPU kernel does).
// - change_rms(): ref infer/modules/vc/pipeline.py, change_rms. data1 is the pipeline's 16 kHz
//   input *after* the 48 Hz high-pass (float64, as upstream passes it), data2 the converted
//   float32 output at sr2, scaled in place by rms1^(1-rate) * max(rms2,1e-6)^(rate-1).
// Pure functions; thread-safe. They allocate (offline use).
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::dsp {

// frame_length >= 1 and hop >= 1, n >= 0; throws rvc::Error otherwise.
std::vector<double> frame_rms(const double* y, int64_t n, int frame_length, int hop);
std::vector<float> frame_rms(const float* y, int64_t n, int frame_length, int hop);

// in_n >= 1, out_n >= 0; throws rvc::Error otherwise.
std::vector<double> interp_linear(const double* x, int64_t in_n, int64_t out_n);
std::vector<float> interp_linear(const float* x, int64_t in_n, int64_t out_n);

// sr1, sr2 >= 2; rate is rms_mix_rate (1 = keep the output's loudness: upstream skips the call).
void change_rms(const double* data1, int64_t n1, int sr1, float* data2, int64_t n2, int sr2,
                double rate);

}  // namespace rvc::dsp
