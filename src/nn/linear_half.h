// src/nn/linear_half.h: Linear's few-row path for weights stored exactly in half precision.
//
// RVC checkpoints keep their weights in IEEE half precision (upstream saves voices, HuBERT and
// RMVPE with .half()), so each weight, widened to f32 at load, is exactly a half. HalfPanels holds
// such a matrix in half precision (half the bytes of f32) and multiplies with f32 arithmetic:
// every weight is widened back in a register (exact), products and sums are f32, in k order.
// At a stream block's few rows (HuBERT's 32 frames at block 100 ms + 0.5 s) a matmul with cold
// weights waits on memory as much as on arithmetic; half the bytes plus a software prefetch of
// the next panel beats oneDNN's f32 matmul there (BM_LinearRows in bench/nn_bench.cc, and
// HuBERT's transformer in a stream block: see the README's latency and speed section).
// Needs AVX-512F (16-wide half<->f32 conversions); pack() returns an empty object otherwise, or
// when any weight is not exactly a half (a f32-trained checkpoint), and Linear keeps oneDNN.
#pragma once

#include <cstdint>

#include "rvc/core/tensor.h"

namespace rvc::nn::detail {

class HalfPanels {
 public:
  static constexpr int64_t kCols = 32;     // output columns per panel (two 16-float vectors)
  static constexpr int64_t kMaxRows = 64;  // above this oneDNN's f32 matmul is as fast or faster

  // w: [out][in] f32. Empty unless the CPU has AVX-512F and every w is exactly a half.
  static HalfPanels pack(const float* w, int64_t out, int64_t in);

  bool empty() const { return panels_ == 0; }
  // The weights back as f32 [out][in] (exact).
  void unpack(float* w) const;
  // y[r][o] = sum_i x[r * x_stride + i] * w[o][i] + bias[o] (+ y[r][o] if accumulate), y rows
  // `out` apart, for 1 <= rows <= kMaxRows, on nn::num_threads() threads (1 inside an OpenMP
  // region, where a thread lent through rvc/nn/assist.h takes half the panels). Allocation-free
  // once the calling thread's packing scratch has grown to rows * in.
  void gemm(const float* x, int64_t rows, int64_t x_stride, const float* bias, float* y,
            bool accumulate) const;

 private:
  int64_t in_ = 0, out_ = 0, panels_ = 0;
  AlignedVector<uint16_t> w_;  // [panel][in][kCols], the last panel's spare columns zero
};

}  // namespace rvc::nn::detail
