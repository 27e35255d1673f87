// rvc/dsp/mel.h: librosa mel filterbank and RMVPE's log-mel spectrogram.
//
// mel_filterbank() reproduces librosa 0.9.1 filters.mel(sr, n_fft, n_mels, fmin, fmax, htk,
// norm="slaney", dtype=float32): built in float64, the triangles rounded to float32 when stored,
// then multiplied by the slaney norm in float64 and rounded to float32 again, exactly the order
// of librosa's in-place operations. Result: [n_mels, n_fft/2+1] row-major float32.
//
// LogMelSpectrogram is RMVPE's front end (ref: infer/lib/rmvpe.py, MelSpectrogram.forward with
// keyshift=0, speed=1): log(max(mel_basis @ |stft(audio)|, clamp)), shape [n_mels, n_frames]
// with n_frames = n/hop + 1 (center). The matmul and log run in float64 over the float32 basis.
// Thread-safety: immutable after construction; compute() is const and reentrant.
#pragma once

#include <cstdint>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/dsp/stft.h"

namespace rvc::dsp {

struct MelConfig {
  int sample_rate = 16000;
  int n_fft = 1024;
  int n_mels = 128;
  double fmin_hz = 30.0;
  double fmax_hz = 8000.0;  // <= 0 means sample_rate / 2 (librosa's fmax=None)
  bool htk = true;          // HTK mel formula; false = librosa's Slaney scale
};

double hz_to_mel(double hz, bool htk);
double mel_to_hz(double mel, bool htk);

// [n_mels, n_fft/2+1] float32. Throws rvc::Error on non-positive sizes or fmin >= fmax.
Tensor mel_filterbank(const MelConfig& cfg);

struct LogMelConfig {
  MelConfig mel;  // RMVPE: 16 kHz, n_fft 1024, 128 mels, 30..8000 Hz, htk
  int hop = 160;
  int win_length = 1024;
  double clamp = 1e-5;
};

class LogMelSpectrogram {
 public:
  explicit LogMelSpectrogram(const LogMelConfig& cfg = {});

  const Tensor& mel_basis() const { return basis_; }
  int n_mels() const { return cfg_.mel.n_mels; }
  int64_t n_frames(int64_t n_samples) const { return stft_.n_frames(n_samples, true); }

  // audio: n samples at cfg.mel.sample_rate, n > n_fft/2. Returns [n_mels, n_frames].
  Tensor compute(const float* audio, int64_t n) const;
  // Per-caller scratch of compute_into(): grown on first use, then reused without allocation.
  struct Scratch {
    Stft::Scratch stft;
    std::vector<double> mag, acc;
  };
  // As compute(), into out [n_mels][n_frames(n)] (caller-owned); allocates nothing once s has
  // seen an input of at least n samples.
  void compute_into(const float* audio, int64_t n, float* out, Scratch& s) const;

 private:
  LogMelConfig cfg_;
  Tensor basis_;
  Stft stft_;
};

}  // namespace rvc::dsp
