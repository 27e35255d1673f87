// Private building blocks of models::Hubert (src/models only, not a public header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/attention.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/linear.h"

namespace rvc::models::hubert {

struct Norm {
  Tensor gamma, beta;  // [C]; empty gamma: no norm
  bool empty() const { return gamma.empty(); }
};

struct ConvLayer {
  nn::Conv1d conv;
  Norm norm;
};

struct EncoderLayer {
  nn::MultiHeadAttention attn;
  Norm attn_norm;
  nn::Linear fc1, fc2;
  Norm final_norm;
};

// The conv feature extractor on n samples -> [T][C_conv]. group_norm: layer 0's norm is a
// GroupNorm with one group per channel (statistics over time); otherwise every layer's norm is
// a LayerNorm over the channels of each frame. Layers without a norm just get GELU.
Tensor conv_features(const std::vector<ConvLayer>& convs, bool group_norm, const float* wav,
                     int64_t n);

// GroupNorm(num_groups = C) of a [T][C] buffer: mean/var of each channel over all T frames,
// in one row-major pass per statistic (nn::group_norm walks each group's column separately).
void channel_norm(float* x, int64_t rows, int64_t channels, const Norm& norm, float eps = 1e-5f);

// Per-call scratch of the transformer layers.
struct LayerScratch {
  LayerScratch(int64_t t, int64_t e, int64_t ffn) : a({t, e}), b({t, e}), h({t, ffn}) {}
  Tensor a, b, h;
};

// One TransformerSentenceEncoderLayer on x [T][E] in place (all T frames are valid keys).
// Post-LN: LN(x + MHA(x)), LN(x + fc2(gelu(fc1(x)))). Pre-LN (layer_norm_first):
// x + MHA(LN(x)), then x + fc2(gelu(fc1(LN(x)))).
void encoder_layer(const EncoderLayer& l, bool layer_norm_first, Tensor& x, LayerScratch& s);

// Exact (erf) GELU over n floats, in place allowed; the nn::gelu_erf fast kernel.
void gelu(float* x, size_t n);

}  // namespace rvc::models::hubert
