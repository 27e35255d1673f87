// Hubert building blocks: conv feature extractor, per-channel GroupNorm, encoder layer.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "hubert_parts.h"
#include "rvc/core/error.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/gelu_fast.h"
#include "rvc/nn/linear.h"
#include "rvc/nn/ops.h"

namespace rvc::models::hubert {

void gelu(float* x, size_t n, nn::Backend backend) { nn::gelu_erf(x, x, n, backend); }

namespace {

// Per-channel affine y = x * mul + add, then GELU, on `rows` rows.
void scale_shift_gelu(float* x, int64_t rows, int64_t channels, const float* mul, const float* add,
                      nn::Backend backend) {
  for (int64_t t = 0; t < rows; ++t) {
    float* r = x + t * channels;
    for (int64_t i = 0; i < channels; ++i) r[i] = r[i] * mul[i] + add[i];
  }
  gelu(x, static_cast<size_t>(rows * channels), backend);
}

// y [rows][out] = conv(x) for the fast backend (see ConvLayer).
void conv_gemm(const ConvLayer& l, const float* x, int64_t t_in, float* y) {
  const auto& p = l.conv.params();
  const int64_t rows = l.conv.out_length(t_in), in = p.in_channels, out = p.out_channels;
  const int64_t k = p.kernel, s = p.stride;
  if (in == 1) {
    thread_local std::vector<float> col;
    col.resize(static_cast<size_t>(rows * k));
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(&col[static_cast<size_t>(r * k)], x + r * s, sizeof(float) * k);
    nn::gemm(false, false, rows, out, k, 1.f, col.data(), k, l.taps.data(), out, 0.f, y, out,
             nn::Backend::kFast);
  } else {
    for (int64_t j = 0; j < k; ++j) {
      nn::gemm(false, false, rows, out, in, 1.f, x + j * in, s * in, l.taps.data() + j * in * out,
               out, j == 0 ? 0.f : 1.f, y, out, nn::Backend::kFast);
    }
  }
  if (!l.bias.empty()) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += l.bias[o];
    }
  }
}

// Input samples needed for `frames` output frames of the stack (no padding anywhere).
int64_t span_of(const std::vector<ConvLayer>& convs, int64_t frames) {
  int64_t t = frames;
  for (size_t i = convs.size(); i-- > 0;) {
    const auto& p = convs[i].conv.params();
    t = (t - 1) * p.stride + p.kernel;
  }
  return t;
}

}  // namespace

Tensor conv_taps(const Tensor& weight) {
  const int64_t out = weight.dim(0), in = weight.dim(1), k = weight.dim(2);
  Tensor t({k, in, out});
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t c = 0; c < in; ++c) {
      for (int64_t j = 0; j < k; ++j) t[(j * in + c) * out + o] = weight[(o * in + c) * k + j];
    }
  }
  return t;
}

void ConvStack::run_conv(size_t i, const float* x, int64_t t_in, float* y) const {
  if (backend_ == nn::Backend::kFast) {
    conv_gemm(convs_[i], x, t_in, y);
  } else {
    convs_[i].conv.forward(x, t_in, y);
  }
}

ConvStack::ConvStack(const std::vector<ConvLayer>& convs, bool group_norm, nn::Backend backend)
    : convs_(convs),
      group_norm_(group_norm && !convs.empty() && !convs[0].norm.empty()),
      backend_(backend) {
  hop_ = 1;
  for (const auto& c : convs_) hop_ *= c.conv.params().stride;
  // Chunk length: the most output frames whose layer-0 rows fit kLayer0Rows.
  const auto& p0 = convs_[0].conv.params();
  chunk_frames_ = 1;
  while ((span_of(convs_, chunk_frames_ + 1) - p0.kernel) / p0.stride + 1 <= kLayer0Rows) {
    ++chunk_frames_;
  }
  max_rows_ = (span_of(convs_, chunk_frames_) - p0.kernel) / p0.stride + 1;
  for (const auto& c : convs_)
    max_channels_ = std::max(max_channels_, c.conv.params().out_channels);
}

int64_t ConvStack::frames(int64_t n) const {
  int64_t t = n;
  for (const auto& c : convs_) {
    t = c.conv.out_length(t);
    if (t <= 0) return 0;
  }
  return t;
}

void ConvStack::layer0_stats(const float* wav, int64_t n, std::vector<float>& mul,
                             std::vector<float>& add) const {
  // ref: fairseq/modules/fp32_group_norm.py Fp32GroupNorm (num_groups == channels): statistics
  // of each channel over all layer-0 frames. Computed chunk by chunk as sums in double.
  const nn::Conv1d& conv = convs_[0].conv;
  const int64_t c = conv.params().out_channels, k = conv.params().kernel;
  const int64_t s = conv.params().stride;
  const int64_t rows = conv.out_length(n);
  const int64_t n_chunks = (rows + max_rows_ - 1) / max_rows_;
  std::vector<double> sum(static_cast<size_t>(c), 0.0), sq(static_cast<size_t>(c), 0.0);
#pragma omp parallel num_threads(nn::num_threads())
  {
    std::unique_ptr<float[]> buf(new float[static_cast<size_t>(max_rows_ * c)]);  // no zeroing
    std::vector<double> ls(static_cast<size_t>(c), 0.0), lq(static_cast<size_t>(c), 0.0);
#pragma omp for schedule(dynamic)
    for (int64_t ch = 0; ch < n_chunks; ++ch) {
      const int64_t r0 = ch * max_rows_, nr = std::min(max_rows_, rows - r0);
      run_conv(0, wav + r0 * s, (nr - 1) * s + k, buf.get());
      for (int64_t t = 0; t < nr; ++t) {
        const float* r = buf.get() + t * c;
        for (int64_t i = 0; i < c; ++i) {
          ls[static_cast<size_t>(i)] += r[i];
          lq[static_cast<size_t>(i)] += static_cast<double>(r[i]) * r[i];
        }
      }
    }
#pragma omp critical
    for (size_t i = 0; i < static_cast<size_t>(c); ++i) {
      sum[i] += ls[i];
      sq[i] += lq[i];
    }
  }
  const Norm& norm = convs_[0].norm;
  mul.resize(static_cast<size_t>(c));
  add.resize(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) {
    const size_t u = static_cast<size_t>(i);
    const double mean = sum[u] / static_cast<double>(rows);
    const double var = std::max(sq[u] / static_cast<double>(rows) - mean * mean, 0.0);
    const double inv = 1.0 / std::sqrt(var + 1e-5);
    mul[u] = static_cast<float>(inv * norm.gamma[i]);
    add[u] = static_cast<float>(norm.beta[i] - mean * inv * norm.gamma[i]);
  }
}

Tensor ConvStack::forward(const float* wav, int64_t n) const {
  // ref: fairseq/models/wav2vec/wav2vec2.py ConvFeatureExtractionModel.forward. Output frame j
  // depends on samples [j*hop, j*hop + span(1)) only, so chunks of frames run independently
  // (one per thread) on bounded buffers; only layer 0's GroupNorm needs a first pass.
  const int64_t t = frames(n);
  if (t <= 0) fail("hubert: input too short for the conv feature extractor");
  std::vector<float> mul0, add0;
  if (group_norm_) layer0_stats(wav, n, mul0, add0);
  const int64_t c_out = convs_.back().conv.params().out_channels;
  Tensor out({t, c_out});
  const int64_t n_chunks = (t + chunk_frames_ - 1) / chunk_frames_;
#pragma omp parallel num_threads(nn::num_threads())
  {
    const size_t cap = static_cast<size_t>(max_rows_ * max_channels_);
    std::unique_ptr<float[]> a(new float[cap]), b(new float[cap]);  // no zeroing
#pragma omp for schedule(dynamic)
    for (int64_t ch = 0; ch < n_chunks; ++ch) {
      const int64_t j0 = ch * chunk_frames_, nf = std::min(chunk_frames_, t - j0);
      const float* in = wav + j0 * hop_;
      int64_t t_in = span_of(convs_, nf);
      float* cur = a.get();
      float* next = b.get();
      for (size_t i = 0; i < convs_.size(); ++i) {
        const nn::Conv1d& conv = convs_[i].conv;
        const int64_t rows = conv.out_length(t_in), c = conv.params().out_channels;
        const bool last = i + 1 == convs_.size();
        float* dst = last ? out.data() + j0 * c_out : next;
        run_conv(i, in, t_in, dst);
        const Norm& norm = convs_[i].norm;
        if (i == 0 && group_norm_) {
          scale_shift_gelu(dst, rows, c, mul0.data(), add0.data(), backend_);
        } else {
          if (!norm.empty() && !group_norm_) {
            nn::layer_norm(dst, dst, rows, c, norm.gamma.data(), norm.beta.data());
          }
          gelu(dst, static_cast<size_t>(rows * c), backend_);
        }
        in = dst;
        t_in = rows;
        std::swap(cur, next);
      }
    }
  }
  return out;
}

void encoder_layer(const EncoderLayer& l, bool layer_norm_first, Tensor& x, LayerScratch& s,
                   nn::Backend backend) {
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
    gelu(h, static_cast<size_t>(t * ffn), backend);
    l.fc2.forward(h, t, xd, /*accumulate=*/true);
    nn::layer_norm(xd, xd, t, e, l.final_norm.gamma.data(), l.final_norm.beta.data());
    return;
  }
  nn::layer_norm(xd, a, t, e, l.attn_norm.gamma.data(), l.attn_norm.beta.data());
  l.attn.forward(a, t, t, s.b.data());
  nn::add(xd, s.b.data(), xd, n);
  nn::layer_norm(xd, a, t, e, l.final_norm.gamma.data(), l.final_norm.beta.data());
  l.fc1.forward(a, t, h);
  gelu(h, static_cast<size_t>(t * ffn), backend);
  l.fc2.forward(h, t, xd, /*accumulate=*/true);
}

}  // namespace rvc::models::hubert
