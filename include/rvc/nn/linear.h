// rvc/nn/linear.h: GEMM and the fully connected layer.
//
// gemm(): C = alpha * op(A) * op(B) + beta * C on row-major matrices with leading dimensions
// (so strided views such as one attention head's columns work), op = transpose or not.
// A is MxK after op, B is KxN after op, C is MxN. Fast path: dnnl_sgemm. Stateless, reentrant.
//
// Linear: torch.nn.Linear on [T][in] rows: y[t] = post(W x[t] + b), W given as [out][in].
// It is also the 1x1 Conv1d of [T][C] activations (pass the conv weight reshaped to [out][in]).
// Fast path: a oneDNN matmul with weights pre-packed at construction; primitives are cached per
// T (see conv1d.h for the caching/thread-safety contract). A fast Linear built while
// default_precision() is kBf16 (and the CPU has native bf16) packs its weights in bf16 and
// rounds each input to bf16 (accumulation and output stay f32). An f32 fast Linear whose weights
// are all exactly halves keeps them as halves (half the memory) and runs up to 64 rows on its own
// kernel that widens each weight in a register: f32 arithmetic throughout, faster than oneDNN at
// a stream block's few rows (src/nn/linear_half.h).
// Heap: prepare(rows) creates the primitive for `rows` (allocates); a later forward() with the
// same rows and accumulate flag allocates nothing in rvc code (oneDNN's execute keeps a few
// small nodes of its own per call); scratch is thread-local and grows once.
#pragma once

#include <cstdint>
#include <memory>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          Backend backend = default_backend());

class Linear {
 public:
  Linear();
  // weight: [out][in] or [out][in][1] (a 1x1 conv); bias: [out] or nullptr.
  Linear(const Tensor& weight, const Tensor* bias, Backend backend = default_backend(),
         PostOp post = PostOp::kNone, float alpha = 0.f);
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Precision precision() const { return precision_; }
  // Whether the f32 fast path holds the weights in half precision (each one exactly a half, as in
  // RVC's checkpoints; AVX-512F): up to 64 rows then run on that copy, more on oneDNN.
  bool half_weights() const;
  void prepare(int64_t rows, bool accumulate = false) const;
  // x: rows x in (row stride in), y: rows x out (row stride out). accumulate: y += result
  // (before the post-op).
  void forward(const float* x, int64_t rows, float* y, bool accumulate = false) const;
  // x's rows `x_stride` >= in floats apart (oneDNN takes no overlapping rows): e.g. a strided
  // convolution's patches of `stride` taps, x[r * stride * c, (r + 1) * stride * c).
  void forward_strided(const float* x, int64_t rows, int64_t x_stride, float* y,
                       bool accumulate = false) const;
  // x {rows, in} -> y {rows, out} (resized unless accumulate).
  void forward(const Tensor& x, Tensor& y, bool accumulate = false) const;

 private:
  struct Impl;
  int64_t in_ = 0, out_ = 0;
  Backend backend_ = Backend::kReference;
  PostOp post_ = PostOp::kNone;
  Precision precision_ = Precision::kF32;
  float alpha_ = 0.f;
  Tensor weight_;  // [out][in]; empty when half_weights()
  Tensor bias_;    // [out]
  std::unique_ptr<Impl> impl_;
};

}  // namespace rvc::nn
