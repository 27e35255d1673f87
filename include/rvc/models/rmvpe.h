// rvc/models/rmvpe.h: the RMVPE pitch estimator (upstream infer/lib/rmvpe.py: E2E + RMVPE).
//
// Hyper-parameters come from the weights (formats::read_rmvpe: n_blocks, en_de_layers,
// inter_layers, en_out_channels, n_gru, n_mels, n_classes), so the tiny test model and the real
// 181 MB assets/rmvpe/rmvpe.pt run through the same code. Every tensor is checked against the
// shape the architecture implies at construction; the first mismatch throws rvc::Error naming it.
//
// Pipeline (ref: RMVPE.infer_from_audio): 16 kHz audio -> log-mel [n_mels, T] (dsp::
// LogMelSpectrogram, hop 160) -> zero-pad T to a multiple of 2^en_de_layers frames -> E2E ->
// sigmoid salience cropped to [T, n_classes] -> dsp::rmvpe_decode(thred) -> f0 [T] Hz (0 =
// unvoiced), one value per 10 ms frame: T = n/160 + 1.
//
// Layers: nn::Conv2d (BatchNorm2d + ReLU folded, the ConvBlockRes residual fused into the second
// conv), nn::ConvTranspose2d (polyphase conv), nn::avg_pool2d, nn::Gru, nn::Linear.
//
// Thread-safety: a constructed Rmvpe is immutable and shared; every method is const and may run
// concurrently. Feature maps come from a per-thread buffer pool that keeps up to 512 MB between
// calls (fresh multi-MB buffers cost page faults on every call); call from a worker thread, not
// an audio callback. Runs in float32 (upstream's is_half=False path).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/dsp/mel.h"
#include "rvc/formats/model_info.h"

namespace rvc::models {

struct RmvpeHparams {
  int64_t n_blocks = 0, en_de_layers = 0, inter_layers = 0, en_out_channels = 0;
  int64_t in_channels = 1, n_gru = 0, n_mels = 0, n_classes = 0;
};

class Rmvpe {
 public:
  // Takes the weights of info (moved out of it). Throws rvc::Error on a missing or misshapen
  // tensor or unsupported hyper-parameters.
  explicit Rmvpe(formats::RmvpeInfo info);
  ~Rmvpe();
  Rmvpe(Rmvpe&&) noexcept;
  Rmvpe& operator=(Rmvpe&&) noexcept;

  const RmvpeHparams& hparams() const { return hp_; }
  const dsp::LogMelSpectrogram& mel_extractor() const { return mel_; }

  // RMVPE's MelSpectrogram: [n_mels, n/160 + 1]; needs n > 512 samples.
  Tensor mel(const float* audio_16k, int64_t n) const;
  // E2E on a log-mel [n_mels, T] -> salience [T, n_classes] (ref: RMVPE.mel2hidden).
  Tensor salience(const Tensor& mel) const;
  // audio -> mel -> salience -> decode (ref: RMVPE.infer_from_audio), float64 Hz per frame.
  std::vector<double> infer_f0(const float* audio_16k, int64_t n, float threshold = 0.03f) const;

 private:
  struct Net;
  RmvpeHparams hp_;
  dsp::LogMelSpectrogram mel_;
  std::unique_ptr<Net> net_;
};

}  // namespace rvc::models
