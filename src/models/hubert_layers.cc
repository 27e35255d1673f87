// Hubert building blocks: conv feature extractor, per-channel GroupNorm, encoder layer.
#include <omp.h>

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

// f(me, parts) on a team of nt threads; on the calling thread alone (f(0, 1)) when nt <= 1 or
// inside a parallel region already (where a nested team would allocate on every call and an
// orphaned `omp for` would bind to the enclosing team). Work is split by `part` below, never
// by `omp for`, so both ways run the same code.
template <typename F>
void team(int nt, F&& f) {
  if (nt <= 1 || omp_in_parallel()) {
    f(0, 1);
    return;
  }
#pragma omp parallel num_threads(nt)
  f(omp_get_thread_num(), omp_get_num_threads());
}

// Part `me` of `parts` contiguous, static pieces of [0, n): [*b, *e) (the same on every call).
void part(int64_t n, int me, int parts, int64_t* b, int64_t* e) {
  const int64_t q = n / parts, r = n % parts;
  *b = me * q + std::min<int64_t>(me, r);
  *e = *b + q + (me < r ? 1 : 0);
}

// Per-channel affine y = x * mul + add, then GELU, on `rows` rows.
void scale_shift_gelu(float* x, int64_t rows, int64_t channels, const float* mul, const float* add,
                      nn::Backend backend) {
  for (int64_t t = 0; t < rows; ++t) {
    float* r = x + t * channels;
    for (int64_t i = 0; i < channels; ++i) r[i] = r[i] * mul[i] + add[i];
  }
  gelu(x, static_cast<size_t>(rows * channels), backend);
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

Tensor patch_weight(const Tensor& weight, int64_t j0, int64_t j1) {
  const int64_t out = weight.dim(0), in = weight.dim(1), k = weight.dim(2), n = j1 - j0;
  Tensor w({out, n * in});
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t c = 0; c < in; ++c) {
      for (int64_t j = j0; j < j1; ++j) {
        w[(o * n + (j - j0)) * in + c] = weight[(o * in + c) * k + j];
      }
    }
  }
  return w;
}

void ConvStack::run_conv(size_t i, const float* x, int64_t t_in, float* y) const {
  if (backend_ == nn::Backend::kFast) {
    const ConvLayer& l = convs_[i];
    const auto& p = l.conv.params();
    const int64_t rows = l.conv.out_length(t_in), step = p.stride * p.in_channels;
    for (size_t g = 0; g < l.patches.size(); ++g) {
      l.patches[g].forward_strided(x + static_cast<int64_t>(g) * step, rows, step, y, g > 0);
    }
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

void ConvStack::reserve(ConvWork& w, int threads) const {
  const auto& c0 = convs_[0].conv.params();
  const size_t cap = static_cast<size_t>(max_rows_ * max_channels_);
  const size_t nt = static_cast<size_t>(std::max(threads, 1));
  if (w.a.size() < nt) {
    w.a.resize(nt);
    w.b.resize(nt);
    w.stats.resize(nt);
    w.sum.resize(nt);
    w.sq.resize(nt);
  }
  for (size_t i = 0; i < nt; ++i) {
    w.a[i].ensure(cap);
    w.b[i].ensure(cap);
    if (group_norm_) {
      w.stats[i].ensure(static_cast<size_t>(max_rows_ * c0.out_channels));
      w.sum[i].resize(static_cast<size_t>(c0.out_channels));
      w.sq[i].resize(static_cast<size_t>(c0.out_channels));
    }
  }
  w.mul.resize(static_cast<size_t>(c0.out_channels));
  w.add.resize(static_cast<size_t>(c0.out_channels));
  w.threads = std::max(w.threads, static_cast<int>(nt));
}

bool ConvStack::layer0_sums_from_moments(const float* wav, int64_t n, ConvWork& w, int nt) const {
  // Layer 0 is linear in its input patch p_r = wav[r*s, r*s + k): y_rc = w_c . p_r + b_c, so
  // sum_r y_rc = w_c . m + R b_c and sum_r y_rc^2 = w_c' M w_c + 2 b_c w_c . m + R b_c^2, with
  // m = sum_r p_r and M = sum_r p_r p_r' (k x k). That is O(R k^2) instead of running the conv
  // (O(R k C)) once more just for its statistics; all of it in double.
  const ConvLayer& l0 = convs_[0];
  const auto& p = l0.conv.params();
  const int64_t k = p.kernel, s = p.stride, c = p.out_channels;
  if (p.in_channels != 1 || k > kMaxMomentTaps || p.groups != 1 || p.dilation != 1 ||
      p.pad_left != 0 || p.pad_right != 0 || p.post != nn::PostOp::kNone) {
    return false;
  }
  const int64_t rows = l0.conv.out_length(n);
  const int threads = w.threads;
  constexpr int64_t kK = kMaxMomentTaps;
  // Per-thread partial moments on the stack (no allocation on a stream's real-time path).
  double part_m[8][kK] = {};
  double part_mm[8][kK * kK] = {};
  const int use = std::min({nt, threads, 8});
  team(use, [&](int me, int parts) {
    double* m = part_m[me];
    double* mm = part_mm[me];
    int64_t r0 = 0, r1 = 0;
    part(rows, me, parts, &r0, &r1);
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = wav + r * s;
      for (int64_t j = 0; j < k; ++j) {
        const double xj = x[j];
        m[j] += xj;
        for (int64_t q = j; q < k; ++q) mm[j * kK + q] += xj * x[q];
      }
    }
  });
  double m[kK] = {}, mm[kK * kK] = {};
  for (int th = 0; th < use; ++th) {
    for (int64_t j = 0; j < k; ++j) {
      m[j] += part_m[th][j];
      for (int64_t q = j; q < k; ++q) mm[j * kK + q] += part_mm[th][j * kK + q];
    }
  }
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t q = 0; q < j; ++q) mm[j * kK + q] = mm[q * kK + j];
  }
  const float* taps = l0.taps.data();  // [k][1][c]
  const double r_d = static_cast<double>(rows);
  std::vector<double>& sum = w.sum[0];
  std::vector<double>& sq = w.sq[0];
  for (int64_t ch = 0; ch < c; ++ch) {
    double wm = 0.0, quad = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      const double wj = taps[j * c + ch];
      wm += wj * m[j];
      double row = 0.0;
      for (int64_t q = 0; q < k; ++q) row += mm[j * kK + q] * taps[q * c + ch];
      quad += wj * row;
    }
    const double b = l0.bias.empty() ? 0.0 : static_cast<double>(l0.bias[ch]);
    sum[static_cast<size_t>(ch)] = wm + r_d * b;
    sq[static_cast<size_t>(ch)] = quad + 2.0 * b * wm + r_d * b * b;
  }
  for (int th = 1; th < threads; ++th) {
    std::fill(w.sum[static_cast<size_t>(th)].begin(), w.sum[static_cast<size_t>(th)].end(), 0.0);
    std::fill(w.sq[static_cast<size_t>(th)].begin(), w.sq[static_cast<size_t>(th)].end(), 0.0);
  }
  return true;
}

void ConvStack::layer0_stats(const float* wav, int64_t n, ConvWork& w, int nt) const {
  // ref: fairseq/modules/fp32_group_norm.py Fp32GroupNorm (num_groups == channels): statistics
  // of each channel over all layer-0 frames, as sums in double: from the input's patch moments
  // where layer 0 allows, else chunk by chunk from the conv's output.
  const nn::Conv1d& conv = convs_[0].conv;
  const int64_t c = conv.params().out_channels, k = conv.params().kernel;
  const int64_t s = conv.params().stride;
  const int64_t rows = conv.out_length(n);
  const int64_t n_chunks = (rows + max_rows_ - 1) / max_rows_;
  const int threads = w.threads;  // >= nn::num_threads(); unused slots stay zero
  const bool from_moments =
      backend_ == nn::Backend::kFast && layer0_sums_from_moments(wav, n, w, nt);
  if (!from_moments) {
    for (int i = 0; i < threads; ++i) {
      std::fill(w.sum[static_cast<size_t>(i)].begin(), w.sum[static_cast<size_t>(i)].end(), 0.0);
      std::fill(w.sq[static_cast<size_t>(i)].begin(), w.sq[static_cast<size_t>(i)].end(), 0.0);
    }
    team(nt, [&](int id, int parts) {
      const size_t me = static_cast<size_t>(id);
      float* buf = w.stats[me].data();
      double* ls = w.sum[me].data();
      double* lq = w.sq[me].data();
      int64_t c0 = 0, c1 = 0;
      part(n_chunks, id, parts, &c0, &c1);  // as in forward()
      for (int64_t ch = c0; ch < c1; ++ch) {
        const int64_t r0 = ch * max_rows_, nr = std::min(max_rows_, rows - r0);
        run_conv(0, wav + r0 * s, (nr - 1) * s + k, buf);
        for (int64_t t = 0; t < nr; ++t) {
          const float* r = buf + t * c;
          for (int64_t i = 0; i < c; ++i) {
            ls[i] += r[i];
            lq[i] += static_cast<double>(r[i]) * r[i];
          }
        }
      }
    });
  }
  const Norm& norm = convs_[0].norm;
  for (int64_t i = 0; i < c; ++i) {
    const size_t u = static_cast<size_t>(i);
    double sum = 0.0, sq = 0.0;
    for (int th = 0; th < threads; ++th) {
      sum += w.sum[static_cast<size_t>(th)][u];
      sq += w.sq[static_cast<size_t>(th)][u];
    }
    const double mean = sum / static_cast<double>(rows);
    const double var = std::max(sq / static_cast<double>(rows) - mean * mean, 0.0);
    const double inv = 1.0 / std::sqrt(var + 1e-5);
    w.mul[u] = static_cast<float>(inv * norm.gamma[i]);
    w.add[u] = static_cast<float>(norm.beta[i] - mean * inv * norm.gamma[i]);
  }
}

void ConvStack::forward(const float* wav, int64_t n, float* out, ConvWork& w) const {
  // ref: fairseq/models/wav2vec/wav2vec2.py ConvFeatureExtractionModel.forward. Output frame j
  // depends on samples [j*hop, j*hop + span(1)) only, so chunks of frames run independently
  // (one per thread) on bounded buffers; only layer 0's GroupNorm needs a first pass.
  const int64_t t = frames(n);
  if (t <= 0) fail("hubert: input too short for the conv feature extractor");
  const int nt = omp_in_parallel() ? 1 : nn::num_threads();
  if (w.threads < nt) reserve(w, nt);
  if (group_norm_) layer0_stats(wav, n, w, nt);
  const int64_t c_out = out_channels();
  // At least one chunk per thread (a stream block's window is shorter than one full chunk).
  // Static schedule: each thread gets the same chunks on every call of a length, so the
  // thread-local state of the primitives it runs (oneDNN's scratchpad and argument lists) is
  // created by the first call (a workspace's prepare) and never grows on a later one.
  const int64_t chunk = std::min(chunk_frames_, (t + nt - 1) / nt);
  const int64_t n_chunks = (t + chunk - 1) / chunk;
  team(nt, [&](int id, int parts) {
    const size_t me = static_cast<size_t>(id);
    int64_t c0 = 0, c1 = 0;
    part(n_chunks, id, parts, &c0, &c1);
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t j0 = ch * chunk, nf = std::min(chunk, t - j0);
      const float* in = wav + j0 * hop_;
      int64_t t_in = span_of(convs_, nf);
      float* cur = w.a[me].data();
      float* next = w.b[me].data();
      for (size_t i = 0; i < convs_.size(); ++i) {
        const nn::Conv1d& conv = convs_[i].conv;
        const int64_t rows = conv.out_length(t_in), c = conv.params().out_channels;
        const bool last = i + 1 == convs_.size();
        float* dst = last ? out + j0 * c_out : next;
        run_conv(i, in, t_in, dst);
        const Norm& norm = convs_[i].norm;
        if (i == 0 && group_norm_) {
          scale_shift_gelu(dst, rows, c, w.mul.data(), w.add.data(), backend_);
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
  });
}

void encoder_layer(const EncoderLayer& l, bool layer_norm_first, float* xd, int64_t t, int64_t e,
                   LayerScratch& s, nn::Backend backend) {
  // ref: fairseq/models/wav2vec/wav2vec2.py TransformerSentenceEncoderLayer.forward
  const size_t n = static_cast<size_t>(t * e);
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
