// rvc/nn/attention.h: multi-head self-attention on [T][C] activations.
//
// Both layers fuse the q/k/v projections into one Linear, run per-head score and value
// products through gemm(), and take their scratch from thread-local buffers (grown on first
// use for a length, never shrunk). forward() is const and thread-safe; x and y must not overlap.
#pragma once

#include <cstdint>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/linear.h"

namespace rvc::nn {

// fairseq MultiheadAttention (HuBERT self-attention): q = (Wq x + bq) * head_dim^-0.5,
// softmax(q k^T) over the keys with keys >= n_valid_keys masked out (key_padding_mask),
// then the output projection. Weights are [C][C] (Linear layout), biases [C].
class MultiHeadAttention {
 public:
  MultiHeadAttention() = default;
  MultiHeadAttention(const Tensor& wq, const Tensor& bq, const Tensor& wk, const Tensor& bk,
                     const Tensor& wv, const Tensor& bv, const Tensor& wo, const Tensor& bo,
                     int64_t n_heads, Backend backend = default_backend());
  int64_t channels() const { return channels_; }
  // Creates the projections' primitives for t frames (forward() then allocates nothing in rvc
  // code once this thread's scratch has grown to t).
  void prepare(int64_t t) const {
    qkv_.prepare(t);
    out_.prepare(t);
  }
  // x, y: [t][C]. n_valid_keys in [1, t].
  void forward(const float* x, int64_t t, int64_t n_valid_keys, float* y) const;

 private:
  int64_t channels_ = 0, heads_ = 0;
  Backend backend_ = Backend::kReference;
  Linear qkv_, out_;
};

// VITS windowed relative-position self-attention (RVC TextEncoder):
// ref: infer/lib/infer_pack/attentions.py, MultiHeadAttention with window_size, heads_share.
// Projections are 1x1 convs ([C][C][1] or [C][C]); emb_rel_k / emb_rel_v are
// [1 or n_heads][2*window+1][C/n_heads] (window read from the shape). For query i and key j with
// |j-i| <= window, the score gets q_i . Ek[j-i+window] and the output gets p_ij * Ev[j-i+window].
// Frames >= n_valid are masked as queries and keys (score -1e4), as upstream's x_mask does.
class RelPosSelfAttention {
 public:
  RelPosSelfAttention() = default;
  RelPosSelfAttention(const Tensor& wq, const Tensor& bq, const Tensor& wk, const Tensor& bk,
                      const Tensor& wv, const Tensor& bv, const Tensor& wo, const Tensor& bo,
                      const Tensor& emb_rel_k, const Tensor& emb_rel_v, int64_t n_heads,
                      Backend backend = default_backend());
  int64_t channels() const { return channels_; }
  int64_t window() const { return window_; }
  void forward(const float* x, int64_t t, int64_t n_valid, float* y) const;

 private:
  int64_t channels_ = 0, heads_ = 0, window_ = 0;
  Backend backend_ = Backend::kReference;
  Linear qkv_, out_;
  Tensor rel_k_, rel_v_;  // [heads_rel][2w+1][dk]
};

}  // namespace rvc::nn
