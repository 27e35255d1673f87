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

// One-shot resampling of whole blocks for the real-time path: each process() call converts one
// block on its own, as resample() does (input outside the block is silence; output j sits at
// input time j * from_hz / to_hz; round(n * to_hz / from_hz) outputs), with StreamResampler's
// polyphase Kaiser-windowed sinc filter instead of libsoxr (which allocates and designs its
// filter on every call).
//
// Memory: the constructor sizes the filter table and scratch for blocks of up to max_in_frames
// and for the rate pairs reserve() was told about; set_rates() to a reserved pair and process()
// then never allocate, lock or throw (set_rates rebuilds the table in place: O(L * taps) sine and
// Bessel evaluations, so do it on parameter changes, not per block). One instance per caller.
class BlockResampler {
 public:
  // Throws rvc::Error on bad rates or sizes.
  BlockResampler(int from_hz, int to_hz, int64_t max_in_frames, int zero_crossings = 32);
  // Makes room (allocates) so that set_rates(from_hz, to_hz) will not. Throws on bad rates.
  void reserve(int from_hz, int to_hz);
  // Switches the filter to from_hz -> to_hz (no-op when unchanged). Allocates only for a pair
  // larger than any reserved one. Throws rvc::Error on bad rates.
  void set_rates(int from_hz, int to_hz);
  int from_hz() const { return from_; }
  int to_hz() const { return to_; }
  // round(n * to / from), as resample().
  int64_t output_frames(int64_t n_in) const;
  // Converts x[0, n_in) (n_in <= max_in_frames) into out[0, min(output_frames(n_in), max_out)),
  // returning that count. Longer inputs are cut to max_in_frames (never happens for callers that
  // keep to their declared size).
  int64_t process(const float* x, int64_t n_in, float* out, int64_t max_out) const;

 private:
  void design();
  int from_ = 0, to_ = 0, zero_crossings_ = 32;
  int64_t up_ = 1, down_ = 1;
  int half_ = 0;
  int64_t max_in_ = 0;
  std::vector<float> table_;  // [L][2*half_]
  std::vector<double> h_;     // design scratch, 2*half_
};

}  // namespace rvc::dsp
