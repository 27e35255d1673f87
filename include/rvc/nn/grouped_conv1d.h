// rvc/nn/grouped_conv1d.h: a stride-1 grouped Conv1d over a whole [T][C] sequence with explicit
// padding, for long kernels such as HuBERT's positional conv (k 128, 16 groups).
//
// Same maths as nn::Conv1d with stride 1 and dilation 1 (its reference path is the reference
// here); the fast path is one oneDNN convolution over the whole sequence (implicit zero
// padding, weights pre-packed once, in bf16 when built while default_precision() is kBf16 on a
// native-bf16 CPU), created per input length on first use or by prepare(t) and cached (mutex,
// at most kMaxCached lengths). After prepare(t), forward() with that t allocates nothing in rvc
// code (oneDNN's execute keeps a few small nodes of its own per call). Construction copies
// the weights; forward() is const and thread-safe; x and y must not overlap.
#pragma once

#include <cstdint>
#include <memory>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn {

class GroupedConv1d {
 public:
  static constexpr size_t kMaxCached = 16;
  GroupedConv1d();
  // p.stride and p.dilation must be 1. weight: [out][in/groups][k]; bias: [out] or nullptr.
  GroupedConv1d(const Conv1dParams& p, const Tensor& weight, const Tensor* bias,
                Backend backend = default_backend());
  ~GroupedConv1d();
  GroupedConv1d(GroupedConv1d&&) noexcept;
  GroupedConv1d& operator=(GroupedConv1d&&) noexcept;

  const Conv1dParams& params() const { return p_; }
  int64_t out_length(int64_t t) const { return t + p_.pad_left + p_.pad_right - p_.kernel + 1; }
  void prepare(int64_t t) const;
  // x: [t][in], y: [out_length(t)][out]. No-op when the output is empty.
  void forward(const float* x, int64_t t, float* y) const;

 private:
  struct Impl;
  Conv1dParams p_;
  Backend backend_ = Backend::kReference;
  Precision precision_ = Precision::kF32;
  Conv1d ref_;
  Tensor weight_, bias_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rvc::nn
