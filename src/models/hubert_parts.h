// Private building blocks of models::Hubert (src/models only, not a public header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/attention.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/grouped_conv1d.h"
#include "rvc/nn/linear.h"

namespace rvc::models::hubert {

struct Norm {
  Tensor gamma, beta;  // [C]; empty gamma: no norm
  bool empty() const { return gamma.empty(); }
};

// One conv block. The fast path does not use `conv`: a bias-free, unpadded, ungrouped strided
// conv on [T][C] rows is k GEMMs, y += X_j W_j, where X_j is the input seen from row j with a
// row stride of stride*C (no im2col copy; for C == 1 a small im2col instead, since oneDNN's
// direct conv is slow with one input channel).
struct ConvLayer {
  nn::Conv1d conv;  // reference path, and the layer's parameters
  Norm norm;
  Tensor taps;  // [k][in][out]: taps[j][c][o] = weight[o][c][j]; one-input-channel layers only
  Tensor bias;  // [out], empty when the checkpoint has none
  // Fast backend: the conv as ceil(k / stride) GEMMs over input patches. Without padding,
  // output row r reads the contiguous x[r*stride*in, (r*stride + k)*in) of [T][in] rows; taps
  // [g*stride, (g+1)*stride) of every row form one strided, non-overlapping [rows][stride*in]
  // view, so group g is a Linear (weight [out][taps*in], patch_weight()) on x + g*stride*in with
  // row stride stride*in, accumulating after the first (which adds the bias).
  std::vector<nn::Linear> patches;
};
// Builds the taps from a PyTorch [out][in][k] weight.
Tensor conv_taps(const Tensor& weight);
// Taps [j0, j1) of that weight as [out][(j1 - j0) * in]: w[o][(j - j0) * in + c] = weight[o][c][j].
Tensor patch_weight(const Tensor& weight, int64_t j0, int64_t j1);

struct EncoderLayer {
  nn::MultiHeadAttention attn;
  Norm attn_norm;
  nn::Linear fc1, fc2;
  Norm final_norm;
};

// Uninitialised float buffer (no zero fill: every user writes before reading).
struct FloatBuf {
  std::unique_ptr<float[]> p;
  size_t n = 0;
  void ensure(size_t want) {
    if (n < want) {
      p.reset(new float[want]);
      n = want;
    }
  }
  float* data() { return p.get(); }
};

// Per-caller buffers of ConvStack::forward, sized for `threads` threads by ConvStack::reserve.
struct ConvWork {
  int threads = 0;
  std::vector<FloatBuf> a, b, stats;         // per thread: two chunk maps, one layer-0 chunk
  std::vector<std::vector<double>> sum, sq;  // per thread: layer-0 channel sums
  std::vector<float> mul, add;               // layer-0 GroupNorm as y = x * mul + add
};

// The conv feature extractor (ref: wav2vec2.py ConvFeatureExtractionModel). group_norm: layer 0's
// norm is a GroupNorm with one group per channel (statistics over time); otherwise each layer's
// norm (if any) is a LayerNorm over the channels of each frame. Every layer ends with GELU.
// Runs in chunks of output frames (layer-0 rows bounded by kLayer0Rows), spread over
// nn::num_threads() OpenMP threads; memory per call is the output plus two chunk buffers per
// thread. Holds a reference to `convs` (owned by the Hubert).
class ConvStack {
 public:
  static constexpr int64_t kLayer0Rows = 4096;
  ConvStack(const std::vector<ConvLayer>& convs, bool group_norm, nn::Backend backend);
  int64_t frames(int64_t n_samples) const;
  int64_t hop() const { return hop_; }
  int64_t out_channels() const { return convs_.back().conv.params().out_channels; }
  // Sizes w for `threads` threads (allocates only when it grows).
  void reserve(ConvWork& w, int threads) const;
  // n samples -> out [frames(n)][out_channels()]. Throws rvc::Error when n yields no frame.
  // Allocation-free once w is reserved for nn::num_threads(): every buffer a chunk needs is
  // w's, indexed by OpenMP thread number; chunks go to threads by a static schedule, so the
  // primitives' own thread-local state is made by the first call (see forward()).
  void forward(const float* wav, int64_t n, float* out, ConvWork& w) const;

 private:
  // y = conv i (x) with the stack's backend.
  void run_conv(size_t i, const float* x, int64_t t_in, float* y) const;
  // Layer-0 GroupNorm folded to per-channel y = x * mul + add from the statistics of all frames.
  void layer0_stats(const float* wav, int64_t n, ConvWork& w, int nt) const;
  // The same per-channel sums from the moments of the input patches, for a one-input-channel
  // layer 0 with at most kMaxMomentTaps taps: returns false (nothing written) otherwise.
  bool layer0_sums_from_moments(const float* wav, int64_t n, ConvWork& w, int nt) const;
  static constexpr int64_t kMaxMomentTaps = 16;
  const std::vector<ConvLayer>& convs_;
  bool group_norm_ = false;
  nn::Backend backend_;
  int64_t hop_ = 1, chunk_frames_ = 1, max_rows_ = 1, max_channels_ = 1;
};

// Scratch of the transformer layers for up to `t` frames.
struct LayerScratch {
  void reserve(int64_t t, int64_t e, int64_t ffn) {
    a.ensure(static_cast<size_t>(t * e));
    b.ensure(static_cast<size_t>(t * e));
    h.ensure(static_cast<size_t>(t * ffn));
  }
  FloatBuf a, b, h;
};

// One TransformerSentenceEncoderLayer on x [t][E] in place (all t frames are valid keys).
// Post-LN: LN(x + MHA(x)), LN(x + fc2(gelu(fc1(x)))). Pre-LN (layer_norm_first):
// x + MHA(LN(x)), then x + fc2(gelu(fc1(LN(x)))).
void encoder_layer(const EncoderLayer& l, bool layer_norm_first, float* x, int64_t t, int64_t e,
                   LayerScratch& s, nn::Backend backend);

// Exact (erf) GELU over n floats in place (nn::gelu_erf with the model's backend).
void gelu(float* x, size_t n, nn::Backend backend);

}  // namespace rvc::models::hubert
