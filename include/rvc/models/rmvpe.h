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
// concurrently (each caller with its own RmvpeWorkspace).
// Heap: the allocating API (mel, salience, infer_f0 returning vectors) takes its feature maps
// from a per-thread pool that keeps at most 128 MB of free buffers between calls (fresh
// multi-MB buffers cost page faults on every call). For repeated calls (a stream) make an
// RmvpeWorkspace once with make_workspace(max_samples) and prepare(ws, n) for each length n
// used, on the calling thread: infer_f0(audio, n, ws, f0) then allocates nothing in rvc code
// (its maps come from the workspace's own pool, which holds what one call needs: ~7 MB per
// second of audio; oneDNN's execute keeps a few small heap nodes of its own per call).
// Precision: built while nn::default_precision() is kBf16 (native-bf16 CPUs), the convolutions
// and the GRU/linear projections run with bf16 weights and inputs, f32 accumulation.
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

class BufferPool;

// Per-caller buffers of Rmvpe::infer_f0 (movable, not copyable; one per concurrent caller).
class RmvpeWorkspace {
 public:
  RmvpeWorkspace();
  ~RmvpeWorkspace();
  RmvpeWorkspace(RmvpeWorkspace&&) noexcept;
  RmvpeWorkspace& operator=(RmvpeWorkspace&&) noexcept;
  int64_t max_samples() const;
  // Bytes of feature-map buffers the workspace's pool holds between calls.
  size_t pooled_bytes() const;

 private:
  friend class Rmvpe;
  struct Impl;
  std::unique_ptr<Impl> impl_;
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

  // F0 frames for n samples: n / 160 + 1.
  int64_t frames(int64_t n_samples) const;
  // How many intermediate-level convs also run as half-weight row products on one-row maps (a
  // stream block's window; the fast f32 path with a checkpoint's half weights), else 0.
  int64_t half_row_convs() const;
  // Buffers for inputs of up to max_samples (> 512) samples. Throws rvc::Error otherwise.
  RmvpeWorkspace make_workspace(int64_t max_samples) const;
  // Readies n <= ws.max_samples() samples for allocation-free calls from this thread: two
  // infer_f0 passes on silence (primitives, thread-local scratch, the pool's buffers).
  void prepare(RmvpeWorkspace& ws, int64_t n, float threshold = 0.03f) const;
  // As infer_f0 above, into f0 [frames(n)] (caller-owned). Throws rvc::Error when n exceeds
  // ws.max_samples() or n <= 512.
  void infer_f0(const float* audio_16k, int64_t n, RmvpeWorkspace& ws, double* f0,
                float threshold = 0.03f) const;

 private:
  int64_t padded_frames(int64_t frames) const;
  // mel [n_mels][frames] -> out [frames][n_classes]; feats/g sized for padded_frames(frames).
  void run_salience(const float* mel, int64_t frames, BufferPool& pool, float* feats, float* g,
                    float* out) const;
  struct Net;
  RmvpeHparams hp_;
  dsp::LogMelSpectrogram mel_;
  std::unique_ptr<Net> net_;
};

}  // namespace rvc::models
