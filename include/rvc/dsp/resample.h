// rvc/dsp/resample.h: high-quality sample-rate conversion, offline (libsoxr, VHQ) and streaming
// (own polyphase windowed-sinc, real-time safe).
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

// librosa.resample(x, orig_sr=from_hz, target_sr=to_hz) as upstream RVC calls it for
// resample_sr: librosa 0.9.2's default res_type "kaiser_best", i.e. resampy 0.4.2 with its
// pre-computed kaiser_best filter (50 zero crossings, 2^13 table steps per crossing, Kaiser
// window beta 12.98, roll-off 0.9173 x Nyquist; the table is rebuilt here to within 2e-15 of
// resampy's stored one), float32 accumulation as numba does it, then librosa's fix_length to
// ceil(n * to_hz / from_hz) samples (zero padded). Same rate: a copy. Throws rvc::Error on
// non-positive rates or an input too short for one output sample (resampy's rule).
// Cost: about 2 * 50 * max(1, from_hz / to_hz) multiply-adds per output sample.
std::vector<float> resample_kaiser_best(const float* x, int64_t n, int from_hz, int to_hz);
inline std::vector<float> resample_kaiser_best(const std::vector<float>& x, int from_hz,
                                               int to_hz) {
  return resample_kaiser_best(x.data(), static_cast<int64_t>(x.size()), from_hz, to_hz);
}

// Streaming fixed-ratio resampler for the real-time path: a polyphase Kaiser-windowed sinc
// (~80 dB stop band, pass band to 0.94 x the lower Nyquist) with rational ratio
// to/from = L/M reduced by their gcd (L and M up to 4096: 16k, 32k, 40k, 44.1k, 48k all fit).
//
// Timing: output sample j sits exactly at input time j * from_hz / to_hz (no phase shift); it is
// emitted once input up to that time + delay_frames() has arrived, so the stream lags by
// delay_frames() input frames. Input before the first sample is taken as silence; flush() is
// not provided: feed delay_frames() zeros to drain.
//
// All memory is allocated in the constructor; process() never allocates, locks or throws.
// One instance per stream; not thread-safe.
class StreamResampler {
 public:
  // max_block_frames: the largest n_in passed to process() (larger blocks are processed in
  // pieces, still without allocating). Throws rvc::Error on bad rates.
  StreamResampler(int from_hz, int to_hz, int max_block_frames, int zero_crossings = 32);

  // Consumes all n_in input samples and writes up to max_out outputs, returning the count.
  // out must have room for max_output(n_in) samples; outputs beyond max_out are dropped.
  int64_t process(const float* in, int64_t n_in, float* out, int64_t max_out);
  // Upper bound on what process(n_in) can return given the current state.
  int64_t max_output(int64_t n_in) const;
  int delay_frames() const { return half_; }
  // Back to the freshly constructed state.
  void reset();

 private:
  int64_t up_ = 1, down_ = 1;  // L, M
  int half_ = 0;               // taps each side, in input samples
  int max_block_ = 0;
  std::vector<float> table_;  // [L][2*half_]
  std::vector<float> buf_;    // history + pending input
  int64_t len_ = 0;           // valid samples in buf_
  int64_t center_ = 0;        // buf_ index of floor(input time of the next output)
  int64_t phase_ = 0;         // fractional part of that time, in 1/L units
};

}  // namespace rvc::dsp
