// rvc/models/hubert.h: HuBERT / ContentVec content-feature extractor (fairseq HubertModel).
//
// ref: fairseq v0.12.2 fairseq/models/hubert/hubert.py HubertModel.extract_features and
// fairseq/models/wav2vec/wav2vec2.py ConvFeatureExtractionModel, TransformerEncoder,
// TransformerSentenceEncoderLayer; upstream RVC infer/modules/vc/pipeline.py Pipeline.vc.
//
// Hyper-parameters come from the checkpoint (formats::read_hubert: conv stack, width, depth,
// heads, FFN, pos-conv kernel/groups, extractor mode, layer_norm_first), so the tiny test model
// and the real hubert_base.pt (12 x 768, conv 512) run through the same code. Every tensor is
// checked against the shape the architecture implies at construction; the first missing or
// mis-shaped one throws rvc::Error naming it. The positional conv's weight norm (dim=2: one
// norm per kernel tap over dims 0 and 1) is folded once at construction.
//
// Forward, on 16 kHz mono float audio (no waveform normalisation, as RVC's pipeline):
//   conv stack (GroupNorm on layer 0 in "default" mode, LayerNorm on every layer in
//   "layer_norm" mode, exact GELU) -> conv_features [T][C_conv]
//   -> layer_norm -> post_extract_proj (absent when C_conv == E) -> post_extract [T][E]
//   -> x + GELU(pos_conv(x)) -> encoder.layer_norm (post-LN models)
//   -> transformer layers 1..output_layer -> [T][E]; final_proj -> [T][final_dim] on request.
// fairseq pads T to an even length and masks the pad frame as a key; since the pad frame is never
// attended to and every other operation is per frame, running the T real frames alone gives the
// same values, so no pad frame is computed.
//
// Layout: time-major [T][C] everywhere (see rvc/nn/backend.h); upstream's conv_features is
// [1, C, T], ours is its transpose.
//
// Thread-safety: a constructed Hubert is immutable; forward() is const and may run from several
// threads at once (each caller with its own HubertWorkspace).
// Heap: the Tensor-returning forward() allocates its activations per call. For repeated calls
// (a stream), make a HubertWorkspace once with make_workspace(max_samples): it holds every
// activation buffer for inputs up to max_samples and prepares the oneDNN primitives for exactly
// max_samples; after prepare(ws, n) on the calling thread, forward(..., ws, out) with that n
// allocates nothing in rvc code (an unprepared length creates its primitives, thread-local
// scratch and oneDNN memory objects on first use: an allocation once per new length). oneDNN's
// execute itself keeps a few small heap nodes per primitive call that rvc cannot avoid in
// oneDNN 2.6. Precision: built while nn::default_precision() is kBf16 (native-bf16 CPUs), the
// matrix products (conv stack GEMMs excepted) run with bf16 weights and inputs, f32 accumulation.
// Memory per call: O(T * C) activations (the conv stack runs in bounded chunks) plus the
// attention's T x T score matrix, T = n / hop_samples() (10 s -> 499 frames -> 1 MB; callers
// feeding minutes of audio should window it, as upstream RVC's pipeline does).
// Threads: nn::num_threads() (conv chunks run one per thread; GEMMs use all of them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/backend.h"

namespace rvc::models {

struct HubertHparams {
  int64_t layers = 0, embedding_dim = 0, heads = 0, ffn_dim = 0;
  int64_t final_dim = 0;  // 0 when the checkpoint has no final_proj
  std::vector<formats::ConvLayerSpec> conv_layers;
  std::string extractor_mode = "default";  // "default" | "layer_norm"
  bool layer_norm_first = false;
  int64_t conv_pos = 128, conv_pos_groups = 16;
};

// Named intermediates for tests and debugging (filled only when requested).
struct HubertIntermediates {
  Tensor conv_features;        // [T][C_conv]: feature extractor output (before layer_norm)
  Tensor post_extract;         // [T][E]: encoder input
  std::vector<Tensor> layers;  // layers[i] = [T][E] output of layer i+1 (as output_layer=i+1)
};

class Hubert;

// Per-caller buffers of Hubert::forward (movable, not copyable; one per concurrent caller).
class HubertWorkspace {
 public:
  HubertWorkspace();
  ~HubertWorkspace();
  HubertWorkspace(HubertWorkspace&&) noexcept;
  HubertWorkspace& operator=(HubertWorkspace&&) noexcept;
  int64_t max_samples() const;

 private:
  friend class Hubert;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Hubert {
 public:
  // Takes the weights of info (moved out). Throws rvc::Error on a missing or misshapen tensor or
  // unsupported hyper-parameters.
  explicit Hubert(formats::HubertInfo info, nn::Backend backend = nn::default_backend());
  ~Hubert();
  Hubert(Hubert&&) noexcept;
  Hubert& operator=(Hubert&&) noexcept;

  const HubertHparams& hparams() const { return hp_; }
  // Output dimension for a call: final_dim with final_proj, else embedding_dim.
  int64_t output_dim(bool apply_final_proj) const;
  // Frames produced for n samples (fairseq's floor arithmetic); 0 when too short.
  int64_t frames(int64_t n_samples) const;
  // Samples per output frame (product of conv strides; 320 for the real model).
  int64_t hop_samples() const;

  // wav16k: n samples at 16 kHz. output_layer: 1-based layer to stop after (capped at the
  // number of layers; <= 0 runs all layers and, for layer_norm_first models, the final
  // encoder.layer_norm, like fairseq's output_layer=None). apply_final_proj: RVC v1 path.
  // Returns [T][output_dim]. Throws rvc::Error when the input yields no frame or final_proj is
  // requested but absent. `debug`, when non-null, receives every intermediate (the layers up to
  // the one returned).
  Tensor forward(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
                 HubertIntermediates* debug = nullptr) const;

  // Buffers for inputs of up to max_samples (> 0) samples, primitives prepared for
  // max_samples. Throws rvc::Error when max_samples yields no frame.
  HubertWorkspace make_workspace(int64_t max_samples) const;
  // Prepares inputs of n <= ws.max_samples() samples for allocation-free calls from the
  // calling thread: creates the primitives and runs one pass on silence (so it costs one
  // forward()). Call it for every length a real-time caller will use, max_samples included.
  void prepare(HubertWorkspace& ws, int64_t n) const;
  // As forward() above, into out [frames(n)][output_dim(apply_final_proj)] (caller-owned).
  // Throws rvc::Error when n > ws.max_samples() or as forward() does.
  void forward(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
               HubertWorkspace& ws, float* out) const;
  // That forward() in its two steps, for a caller that runs other work beside the first:
  // extract() runs the convolutional feature extractor on the n samples into ws; encode() the
  // rest (projection, positional conv, transformer layers) on what extract() left there, for the
  // same n. Inside an OpenMP parallel region every operation runs on the calling thread only.
  void extract(const float* wav16k, int64_t n, HubertWorkspace& ws) const;
  void encode(int64_t n, int output_layer, bool apply_final_proj, HubertWorkspace& ws,
              float* out) const;

  struct Net;

 private:
  void prepare_primitives(int64_t frames) const;
  void run(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
           HubertWorkspace::Impl& ws, float* out, HubertIntermediates* debug) const;
  void run_extract(const float* wav16k, int64_t n, HubertWorkspace::Impl& ws,
                   HubertIntermediates* debug) const;
  void run_encode(int64_t n, int output_layer, bool apply_final_proj, HubertWorkspace::Impl& ws,
                  float* out, HubertIntermediates* debug) const;
  HubertHparams hp_;
  std::unique_ptr<Net> net_;
};

}  // namespace rvc::models
