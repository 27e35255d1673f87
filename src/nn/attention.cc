#include "rvc/nn/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dnnl_util.h"
#include "fast_math.h"
#include "rvc/core/error.h"
#include "rvc/nn/ops.h"

namespace rvc::nn {
namespace {

// exp(x - max) in place (x <= max, so fast_math.h's exp_clamped is within 2e-7 relative and
// inputs below -87 give ~0), then the row's sum. Written as plain loops so that the compiler
// vectorises them for each clone's ISA (GCC 12 leaves an `omp simd reduction` loop scalar: the
// sum is taken in 16 lanes instead).
__attribute__((target_clones("avx512f", "avx2", "default"))) float exp_sum_row(float* x, int64_t n,
                                                                               float max) {
  for (int64_t i = 0; i < n; ++i) x[i] = detail::exp_clamped(x[i] - max);
  constexpr int64_t kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) lanes[j] += x[i + j];
  }
  float sum = 0.f;
  for (; i < n; ++i) sum += x[i];
  for (int64_t j = 0; j < kLanes; ++j) sum += lanes[j];
  return sum;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) float row_max(const float* x,
                                                                           int64_t n) {
  float m = x[0];
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void scale_row(float* x, int64_t n,
                                                                            float s) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

// Softmax over the first `valid` columns of each row in place; columns >= valid become 0
// (the masked keys). Fast backend: vectorised exp; reference: nn::softmax_rows.
void masked_softmax(float* s, int64_t rows, int64_t cols, int64_t valid, Backend backend) {
  if (backend == Backend::kReference) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = valid; j < cols; ++j) s[i * cols + j] = -INFINITY;
    }
    softmax_rows(s, s, rows, cols);
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* r = s + i * cols;
    const float sum = exp_sum_row(r, valid, row_max(r, valid));
    scale_row(r, valid, 1.f / sum);
    for (int64_t j = valid; j < cols; ++j) r[j] = 0.f;
  }
}

// Threads for the per-head loop: the fast backend's thread count; the reference backend stays
// on the calling thread.
int64_t head_threads(Backend backend) {
  return backend == Backend::kFast ? std::max(1, num_threads()) : 1;
}

// Stacks three [C][C](x1) weights and [C] biases into one [3C][C] Linear.
Linear fused_qkv(const Tensor& wq, const Tensor& bq, const Tensor& wk, const Tensor& bk,
                 const Tensor& wv, const Tensor& bv, int64_t c, Backend backend) {
  const Tensor* ws[3] = {&wq, &wk, &wv};
  const Tensor* bs[3] = {&bq, &bk, &bv};
  Tensor w({3 * c, c}), b({3 * c});
  for (int i = 0; i < 3; ++i) {
    if (ws[i]->numel() != c * c || ws[i]->dim(0) != c) {
      fail("attention: projection weight shape ", shape_str(ws[i]->shape()), ", expected [", c,
           ", ", c, "]");
    }
    if (bs[i]->numel() != c) fail("attention: projection bias shape ", shape_str(bs[i]->shape()));
    std::memcpy(w.data() + i * c * c, ws[i]->data(), sizeof(float) * c * c);
    std::memcpy(b.data() + i * c, bs[i]->data(), sizeof(float) * c);
  }
  return Linear(w, &b, backend);
}

Linear out_proj(const Tensor& wo, const Tensor& bo, int64_t c, Backend backend) {
  if (wo.numel() != c * c || wo.dim(0) != c) {
    fail("attention: output weight shape ", shape_str(wo.shape()));
  }
  Tensor w({c, c}, wo.data());
  return Linear(w, &bo, backend);
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(const Tensor& wq, const Tensor& bq, const Tensor& wk,
                                       const Tensor& bk, const Tensor& wv, const Tensor& bv,
                                       const Tensor& wo, const Tensor& bo, int64_t n_heads,
                                       Backend backend)
    : channels_(wq.dim(0)), heads_(n_heads), backend_(backend) {
  if (n_heads <= 0 || channels_ % n_heads != 0) {
    fail("MultiHeadAttention: ", channels_, " channels not divisible by ", n_heads, " heads");
  }
  qkv_ = fused_qkv(wq, bq, wk, bk, wv, bv, channels_, backend);
  out_ = out_proj(wo, bo, channels_, backend);
}

void MultiHeadAttention::forward(const float* x, int64_t t, int64_t n_valid_keys, float* y) const {
  const int64_t c = channels_, dk = c / heads_, c3 = 3 * c;
  float* qkv = detail::thread_scratch(detail::kScratchAttn, static_cast<size_t>(t * (c3 + c)));
  float* o = qkv + t * c3;
  qkv_.forward(x, t, qkv);
  const float scaling = std::pow(static_cast<float>(dk), -0.5f);
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) qkv[i * c3 + ch] *= scaling;
  }
  const int64_t valid = std::clamp<int64_t>(n_valid_keys, 1, t);
  // Heads run in parallel, each on one thread with its own score buffer (a gemm inside the
  // region is single-threaded): the softmax no longer runs on one core while the other waits.
  const int nt = static_cast<int>(std::min<int64_t>(head_threads(backend_), heads_));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t h = 0; h < heads_; ++h) {
    const float* q = qkv + h * dk;
    const float* k = qkv + c + h * dk;
    const float* v = qkv + 2 * c + h * dk;
    float* s = detail::thread_scratch(detail::kScratchAttn2, static_cast<size_t>(t * t));
    gemm(false, true, t, t, dk, 1.f, q, c3, k, c3, 0.f, s, t, backend_);
    masked_softmax(s, t, t, valid, backend_);
    gemm(false, false, t, dk, t, 1.f, s, t, v, c3, 0.f, o + h * dk, c, backend_);
  }
  out_.forward(o, t, y);
}

RelPosSelfAttention::RelPosSelfAttention(const Tensor& wq, const Tensor& bq, const Tensor& wk,
                                         const Tensor& bk, const Tensor& wv, const Tensor& bv,
                                         const Tensor& wo, const Tensor& bo,
                                         const Tensor& emb_rel_k, const Tensor& emb_rel_v,
                                         int64_t n_heads, Backend backend)
    : channels_(wq.dim(0)), heads_(n_heads), backend_(backend) {
  if (n_heads <= 0 || channels_ % n_heads != 0) {
    fail("RelPosSelfAttention: ", channels_, " channels not divisible by ", n_heads, " heads");
  }
  const int64_t dk = channels_ / n_heads;
  if (emb_rel_k.ndim() != 3 || emb_rel_k.dim(2) != dk || emb_rel_k.dim(1) % 2 != 1 ||
      (emb_rel_k.dim(0) != 1 && emb_rel_k.dim(0) != n_heads) ||
      emb_rel_v.shape() != emb_rel_k.shape()) {
    fail("RelPosSelfAttention: emb_rel_k ", shape_str(emb_rel_k.shape()), " / emb_rel_v ",
         shape_str(emb_rel_v.shape()), ", expected [1 or ", n_heads, ", 2*window+1, ", dk, "]");
  }
  window_ = (emb_rel_k.dim(1) - 1) / 2;
  rel_k_ = emb_rel_k;
  rel_v_ = emb_rel_v;
  qkv_ = fused_qkv(wq, bq, wk, bk, wv, bv, channels_, backend);
  out_ = out_proj(wo, bo, channels_, backend);
}

void RelPosSelfAttention::forward(const float* x, int64_t t, int64_t n_valid, float* y) const {
  // ref: infer/lib/infer_pack/attentions.py, MultiHeadAttention.attention
  const int64_t c = channels_, dk = c / heads_, c3 = 3 * c, w = window_, nrel = 2 * w + 1;
  float* qkv = detail::thread_scratch(detail::kScratchAttn, static_cast<size_t>(t * (c3 + c)));
  float* o = qkv + t * c3;
  qkv_.forward(x, t, qkv);
  const float sq = static_cast<float>(std::sqrt(static_cast<double>(dk)));
  for (int64_t i = 0; i < t; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) qkv[i * c3 + ch] /= sq;
  }
  const int64_t valid = std::clamp<int64_t>(n_valid, 0, t);
  const int nt = static_cast<int>(std::min<int64_t>(head_threads(backend_), heads_));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t h = 0; h < heads_; ++h) {
    float* s = detail::thread_scratch(detail::kScratchAttn2, static_cast<size_t>(t * t));
    const float* q = qkv + h * dk;
    const float* k = qkv + c + h * dk;
    const float* v = qkv + 2 * c + h * dk;
    const int64_t hr = rel_k_.dim(0) == 1 ? 0 : h;
    const float* ek = rel_k_.data() + hr * nrel * dk;
    const float* ev = rel_v_.data() + hr * nrel * dk;
    gemm(false, true, t, t, dk, 1.f, q, c3, k, c3, 0.f, s, t, backend_);
    for (int64_t i = 0; i < t; ++i) {
      float* sr = s + i * t;
      const float* qi = q + i * c3;
      int64_t j0 = std::max<int64_t>(0, i - w), j1 = std::min<int64_t>(t - 1, i + w);
      for (int64_t j = j0; j <= j1; ++j) {
        const float* e = ek + (j - i + w) * dk;
        float acc = 0.f;
        for (int64_t d = 0; d < dk; ++d) acc += qi[d] * e[d];
        sr[j] += acc;
      }
      if (i >= valid) {
        for (int64_t j = 0; j < t; ++j) sr[j] = -1e4f;
      } else {
        for (int64_t j = valid; j < t; ++j) sr[j] = -1e4f;
      }
    }
    if (backend_ == Backend::kReference) {
      softmax_rows(s, s, t, t);
    } else {
      // The same values: in rows < valid the -1e4 keys' exp underflows to 0, and rows >= valid
      // (all -1e4) are uniform.
      masked_softmax(s, valid, t, valid, backend_);
      std::fill(s + valid * t, s + t * t, 1.f / static_cast<float>(t));
    }
    float* oh = o + h * dk;
    gemm(false, false, t, dk, t, 1.f, s, t, v, c3, 0.f, oh, c, backend_);
    for (int64_t i = 0; i < t; ++i) {
      const float* sr = s + i * t;
      float* oi = oh + i * c;
      int64_t j0 = std::max<int64_t>(0, i - w), j1 = std::min<int64_t>(t - 1, i + w);
      for (int64_t j = j0; j <= j1; ++j) {
        const float* e = ev + (j - i + w) * dk;
        const float p = sr[j];
        for (int64_t d = 0; d < dk; ++d) oi[d] += p * e[d];
      }
    }
  }
  out_.forward(o, t, y);
}

}  // namespace rvc::nn
