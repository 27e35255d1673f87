// Hubert building blocks: conv feature extractor, per-channel GroupNorm, encoder layer.
#include <cmath>
#include <cstring>
#include <vector>

#include "hubert_parts.h"
#include "rvc/core/error.h"
#include "rvc/nn/ops.h"

namespace rvc::models::hubert {

void gelu(float* x, size_t n) { nn::gelu(x, x, n); }

void channel_norm(float* x, int64_t rows, int64_t channels, const Norm& norm, float eps) {
  // ref: fairseq/modules/fp32_group_norm.py Fp32GroupNorm (num_groups == channels)
  const size_t c = static_cast<size_t>(channels);
  std::vector<double> sum(c, 0.0), sq(c, 0.0);
  for (int64_t t = 0; t < rows; ++t) {
    const float* r = x + t * channels;
    for (size_t i = 0; i < c; ++i) sum[i] += r[i];
  }
  std::vector<float> mean(c), mul(c), add(c);
  for (size_t i = 0; i < c; ++i) sum[i] /= static_cast<double>(rows);
  for (int64_t t = 0; t < rows; ++t) {
    const float* r = x + t * channels;
    for (size_t i = 0; i < c; ++i) {
      const double d = r[i] - sum[i];
      sq[i] += d * d;
    }
  }
  for (size_t i = 0; i < c; ++i) {
    const float inv = static_cast<float>(1.0 / std::sqrt(sq[i] / static_cast<double>(rows) + eps));
    mean[i] = static_cast<float>(sum[i]);
    mul[i] = inv * norm.gamma[static_cast<int64_t>(i)];
    add[i] = norm.beta[static_cast<int64_t>(i)];
  }
  for (int64_t t = 0; t < rows; ++t) {
    float* r = x + t * channels;
    for (size_t i = 0; i < c; ++i) r[i] = (r[i] - mean[i]) * mul[i] + add[i];
  }
}

Tensor conv_features(const std::vector<ConvLayer>& convs, bool group_norm, const float* wav,
                     int64_t n) {
  // ref: fairseq/models/wav2vec/wav2vec2.py ConvFeatureExtractionModel.forward
  Tensor cur, next;
  const float* in = wav;
  int64_t t_in = n;
  for (size_t i = 0; i < convs.size(); ++i) {
    const nn::Conv1d& conv = convs[i].conv;
    const int64_t t_out = conv.out_length(t_in);
    const int64_t c = conv.params().out_channels;
    if (t_out <= 0) fail("hubert: input too short for conv layer ", i);
    next.resize({t_out, c});
    conv.forward(in, t_in, next.data());
    const Norm& norm = convs[i].norm;
    if (!norm.empty()) {
      if (group_norm) {
        channel_norm(next.data(), t_out, c, norm);
      } else {
        nn::layer_norm(next.data(), next.data(), t_out, c, norm.gamma.data(), norm.beta.data());
      }
    }
    gelu(next.data(), static_cast<size_t>(t_out * c));
    std::swap(cur, next);
    in = cur.data();
    t_in = t_out;
  }
  return cur;
}

void encoder_layer(const EncoderLayer& l, bool layer_norm_first, Tensor& x, LayerScratch& s) {
  // ref: fairseq/models/wav2vec/wav2vec2.py TransformerSentenceEncoderLayer.forward
  const int64_t t = x.dim(0), e = x.dim(1);
  const size_t n = static_cast<size_t>(t * e);
  float* xd = x.data();
  float* a = s.a.data();
  float* h = s.h.data();
  const int64_t ffn = l.fc1.out_features();
  if (!layer_norm_first) {
    l.attn.forward(xd, t, t, a);
    nn::add(xd, a, xd, n);
    nn::layer_norm(xd, xd, t, e, l.attn_norm.gamma.data(), l.attn_norm.beta.data());
    l.fc1.forward(xd, t, h);
    gelu(h, static_cast<size_t>(t * ffn));
    l.fc2.forward(h, t, xd, /*accumulate=*/true);
    nn::layer_norm(xd, xd, t, e, l.final_norm.gamma.data(), l.final_norm.beta.data());
    return;
  }
  nn::layer_norm(xd, a, t, e, l.attn_norm.gamma.data(), l.attn_norm.beta.data());
  l.attn.forward(a, t, t, s.b.data());
  nn::add(xd, s.b.data(), xd, n);
  nn::layer_norm(xd, a, t, e, l.final_norm.gamma.data(), l.final_norm.beta.data());
  l.fc1.forward(a, t, h);
  gelu(h, static_cast<size_t>(t * ffn));
  l.fc2.forward(h, t, xd, /*accumulate=*/true);
}

}  // namespace rvc::models::hubert
