// rvc/dsp/voice_changer.h: the built-in DSP voice (no model needed): pitch and formant shift with
// duration unchanged, streaming.
//
// Algorithm: TD-PSOLA driven by a streaming YIN pitch track (rvc/dsp/f0.h).
//  - Analysis: YIN every ~10 ms on the newest frame of the input decimated to about 16 kHz (so
//    its cost does not grow with the rate), median of 3 frames; analysis marks are laid one local
//    period apart in voiced parts (pulled towards the glottal pulses, found as short-time energy
//    peaks, so grains are centred on pulses) and every 10 ms in unvoiced parts.
//  - Synthesis: marks one analysis spacing / pitch_ratio apart (voiced) or one analysis spacing
//    apart (unvoiced). Each synthesis mark overlap-adds a Hann-windowed grain taken from the
//    latest analysis mark at or before it, so duration is kept. The grain is read at formant_ratio
//    times the output rate (cubic interpolation, or a windowed sinc with its cutoff lowered by the
//    ratio when reading faster, against aliasing): its spectral envelope scales by formant_ratio
//    while the pitch is set by the mark spacing alone. Voiced grains span +-1 input period;
//    unvoiced grains +-max(spacing, 10 ms) of output.
//  - The sum is divided by max(window sum, 0.75), which keeps loudness when grains overlap more
//    (pitch up) and barely touches the gaps of a large pitch-down shift.
//  - Pitch and formant changes glide over ~20 ms (per mark, in the log domain): no clicks.
// With pitch 0 and formant 0 synthesis marks coincide with analysis marks and the output equals
// the input delayed by latency() (up to window-sum rounding where the period changes).
//
// Latency is fixed at construction: about 125 ms at any rate with the default 50 Hz lowest f0
// (it scales roughly with 1/f0_min_hz: 75 Hz gives about 92 ms).
// Output is clamped to [-1, 1].
//
// Real-time contract: process() never allocates, locks, logs or throws; it accepts any block
// size (it works internally in chunks) and its output does not depend on how the input is split
// into blocks. Setters may be called between process() calls. Not thread-safe: one instance per
// stream, used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace rvc::dsp {

struct VoiceParams {
  double pitch_semitones = 0.0;    // [-24, 24]
  double formant_semitones = 0.0;  // [-12, 12]; ratio = 2^(formant/12)
  // Throws rvc::Error naming the bad value.
  void validate() const;
};

struct VoiceChangerConfig {
  int sample_rate = 16000;  // any rate in [8000, 192000]; output has the same rate
  double f0_min_hz = 50.0;  // pitch tracking range; the lowest f0 sets grain size and latency
  double f0_max_hz = 1100.0;
  VoiceParams params;
  void validate() const;
};

class VoiceChanger {
 public:
  // Preallocates everything. Throws rvc::Error on a bad config.
  explicit VoiceChanger(const VoiceChangerConfig& config);
  ~VoiceChanger();
  VoiceChanger(const VoiceChanger&) = delete;
  VoiceChanger& operator=(const VoiceChanger&) = delete;

  // Consumes n input samples and writes n output samples: out[i] is the converted input from
  // latency() samples earlier (zeros at the start). in and out may alias. n >= 0.
  void process(const float* in, float* out, int64_t n);

  // Take effect from the next synthesis mark, gliding; values are clamped to the valid ranges.
  void set_pitch(double semitones);
  void set_formant(double semitones);
  double pitch() const;
  double formant() const;

  // Fixed algorithmic latency in samples.
  int64_t latency() const;
  int sample_rate() const;
  // Diagnostics: grain samples that arrived after their output sample had been emitted (they are
  // dropped). Always 0 unless latency() is computed wrong; tests check it.
  int64_t late_samples() const;
  // Clears all signal state (as freshly constructed, keeping parameters).
  void reset();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Offline: the whole signal through a VoiceChanger, latency removed; same length and rate.
std::vector<float> change_voice(const std::vector<float>& x, int sample_rate,
                                const VoiceParams& params);

}  // namespace rvc::dsp
