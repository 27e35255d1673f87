// rvc/nn/ops.h: element-wise activations, normalisations, embedding and softmax.
//
// All functions work on caller-owned float buffers in the nn layout ([T][C] rows, see
// backend.h), are stateless and reentrant, and may run in place (x == y) unless noted.
// Element-wise ops have a single implementation (plain loops built for baseline x86-64), which
// is both the reference and the fast path. Results follow PyTorch's float32 definitions.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"

namespace rvc::nn {

// y = x >= 0 ? x : slope * x
void leaky_relu(const float* x, float* y, size_t n, float slope);
void relu(const float* x, float* y, size_t n);
// Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))).
void gelu(const float* x, float* y, size_t n);
void tanh(const float* x, float* y, size_t n);
void sigmoid(const float* x, float* y, size_t n);
// log(1 + exp(x)), linear above threshold 20 (torch.nn.functional.softplus defaults).
void softplus(const float* x, float* y, size_t n);
// y = a + b
void add(const float* a, const float* b, float* y, size_t n);
// y = x * s
void scale(const float* x, float* y, size_t n, float s);

// LayerNorm over the channels of each row: y[t] = (x[t] - mean) / sqrt(var + eps) * gamma + beta.
void layer_norm(const float* x, float* y, int64_t rows, int64_t channels, const float* gamma,
                const float* beta, float eps = 1e-5f);

// GroupNorm of a [T][C] sequence (PyTorch GroupNorm on [1, C, T]): statistics over all frames
// and the C/groups channels of each group; gamma/beta per channel.
void group_norm(const float* x, float* y, int64_t rows, int64_t channels, int64_t groups,
                const float* gamma, const float* beta, float eps = 1e-5f);

// Inference BatchNorm folded to y = x * scale + shift per channel (last dim of the buffer).
class BatchNorm {
 public:
  BatchNorm() = default;
  // Each [C]; eps as in the PyTorch module (1e-5 by default).
  BatchNorm(const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
            const Tensor& running_var, float eps = 1e-5f);
  int64_t channels() const { return scale_.numel(); }
  const Tensor& scale() const { return scale_; }
  const Tensor& shift() const { return shift_; }
  // x, y: `rows` rows of channels() floats.
  void forward(const float* x, float* y, int64_t rows) const;

 private:
  Tensor scale_, shift_;
};

// Embedding lookup: y[t] = table[ids[t]]; table is [N][C]. Throws rvc::Error on an id outside
// [0, N) (naming the id and N).
void embedding(const Tensor& table, const int64_t* ids, int64_t n_ids, float* y);

// Softmax over each row of `cols` values, numerically stable (max-subtracted).
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);

// WaveNet's gate on one row of n channels (ref: commons.py fused_add_tanh_sigmoid_multiply):
// y[c] = tanh(a[c] + ga[c]) * sigmoid(b[c] + gb[c]). Reference: libm; fast: one vectorised pass
// (exp with relative error < 2e-7, tanh within 3e-7 absolute). y may alias neither input.
void tanh_sigmoid_gate(const float* a, const float* b, const float* ga, const float* gb, float* y,
                       int64_t n, Backend backend = default_backend());

// F.interpolate(mode="linear", align_corners=False) along time of a [T_in][C] buffer to T_out
// frames, with PyTorch's float32 index arithmetic. x and y must not overlap.
void interpolate_linear(const float* x, int64_t t_in, int64_t channels, float* y, int64_t t_out);

// Zeroes rows [valid, rows) of a [rows][C] buffer (a prefix sequence mask).
void mask_rows(float* x, int64_t rows, int64_t channels, int64_t valid);

}  // namespace rvc::nn
