// rvc/nn/conv2d.h: 2-D convolution, transposed convolution and average pooling on [H][W][C]
// feature maps (batch 1, channels last; see backend.h).
//
// Conv2d matches torch.nn.Conv2d with stride 1, dilation 1, groups 1, zero padding (pad_h,
// pad_w) on top/left and (pad_bottom(), pad_right()) on bottom/right, and optional bias. An
// inference BatchNorm2d that follows the conv can be folded into it at construction (w' = w *
// scale[o], b' = b * scale[o] + shift[o]), and the epilogue is fused:
//   y = post(bn(conv(x) + bias))            (accumulate = false)
//   y = post(bn(conv(x) + bias)) + y        (accumulate = true: a residual added *after* the
//                                           activation, as in RMVPE's ConvBlockRes)
// ConvTranspose2d matches torch.nn.ConvTranspose2d (groups 1, dilation 1) with any kernel,
// stride, padding < kernel and output_padding < stride, per dimension, with the same optional
// bias / folded BatchNorm / post-op. Its fast path rewrites it as one polyphase Conv2d
// (Cin -> stride_h*stride_w*Cout channels, ceil-ish(k/stride) taps, no redundant zeros in the
// RMVPE case) plus an interleaving copy; shapes where the phases differ in length use oneDNN's
// deconvolution (much slower on this CPU).
//
// Fast path: oneDNN convolution primitives on nhwc memory, weights pre-packed
// once per layer; primitives are created on the first call for each (H, W) and cached (under a
// mutex, at most kMaxCached per layer; call prepare(h, w) at setup to keep that off real-time
// paths). Construction copies the weights; the layer is then immutable; forward() is const and
// thread-safe. x and y must not overlap.
// Precision: a fast Conv2d built while default_precision() is kBf16 (native bf16 CPUs only)
// packs its weights in bf16 and rounds its input to bf16; accumulation and output stay f32.
// Heap: once the primitive for (h, w, accumulate, layout) exists, forward() allocates nothing in
// rvc code (oneDNN's execute keeps a few small nodes of its own per call).
// Layout: maps are [H][W][C] (MapLayout::kNhwc) unless a call names MapLayout::kBlocked16,
// [C/16][H][W][16] (oneDNN's nChw16c; both channel counts must be multiples of 16). In that
// layout a 3x3, pad-1 fast f32 conv with 64 to 128 channels on 128+ pixels on an AVX-512 CPU
// runs as oneDNN's Winograd convolution (F(2x2,3x3) or F(4x4,3x3)), which needs that layout:
// 1.5-2x faster on RMVPE's 64- and 128-channel levels, with relative rounding error of ~3e-6
// per layer.
// prefers_blocked() says when that applies; to_blocked16() / from_blocked16() convert.
#pragma once

#include <cstdint>
#include <memory>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/ops.h"

namespace rvc::nn {

enum class MapLayout { kNhwc = 0, kBlocked16 = 1 };

// [pixels][c] -> [c/16][pixels][16] and back (c a multiple of 16). x and y must not overlap.
void to_blocked16(const float* x, int64_t pixels, int64_t c, float* y);
void from_blocked16(const float* x, int64_t pixels, int64_t c, float* y);

struct Conv2dParams {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  // Every padding must be smaller than the kernel along its dimension.
  int64_t pad_h = 0, pad_w = 0;            // top / left (and bottom / right unless set below)
  int64_t pad_h_end = -1, pad_w_end = -1;  // bottom / right; -1 = same as pad_h / pad_w
  PostOp post = PostOp::kNone;
  float alpha = 0.f;  // leaky ReLU slope

  int64_t pad_bottom() const { return pad_h_end < 0 ? pad_h : pad_h_end; }
  int64_t pad_right() const { return pad_w_end < 0 ? pad_w : pad_w_end; }
};

class Conv2d {
 public:
  static constexpr size_t kMaxCached = 16;

  Conv2d();
  // weight: [out][in][kh][kw]; bias: [out] or nullptr; bn: BatchNorm over out channels applied
  // after the conv, folded in (nullptr: none). Throws rvc::Error on a shape mismatch.
  Conv2d(const Conv2dParams& p, const Tensor& weight, const Tensor* bias,
         const BatchNorm* bn = nullptr, Backend backend = default_backend());
  ~Conv2d();
  Conv2d(Conv2d&&) noexcept;
  Conv2d& operator=(Conv2d&&) noexcept;

  const Conv2dParams& params() const { return p_; }
  Backend backend() const { return backend_; }
  Precision precision() const { return precision_; }
  int64_t out_h(int64_t h) const { return h + p_.pad_h + p_.pad_bottom() - p_.kernel_h + 1; }
  int64_t out_w(int64_t w) const { return w + p_.pad_w + p_.pad_right() - p_.kernel_w + 1; }
  void prepare(int64_t h, int64_t w, bool accumulate = false,
               MapLayout layout = MapLayout::kNhwc) const;
  // x: [h][w][in]; y: [out_h(h)][out_w(w)][out] (or both kBlocked16). No-op when the output is
  // empty. Throws rvc::Error for kBlocked16 with channel counts that are not multiples of 16.
  void forward(const float* x, int64_t h, int64_t w, float* y, bool accumulate = false,
               MapLayout layout = MapLayout::kNhwc) const;
  // True when this layer runs faster on an h x w map in kBlocked16 (the Winograd case above).
  bool prefers_blocked(int64_t h, int64_t w) const;

 private:
  struct Impl;
  Conv2dParams p_;
  Backend backend_ = Backend::kReference;
  Precision precision_ = Precision::kF32;
  Tensor weight_;  // [out][in][kh][kw], BatchNorm folded
  Tensor bias_;    // [out], BatchNorm folded
  std::unique_ptr<Impl> impl_;
};

struct ConvTranspose2dParams {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;                        // each < kernel
  int64_t output_padding_h = 0, output_padding_w = 0;  // each < stride
  PostOp post = PostOp::kNone;
  float alpha = 0.f;
};

class ConvTranspose2d {
 public:
  ConvTranspose2d();
  // weight: [in][out][kh][kw] (PyTorch layout); bias / bn as for Conv2d.
  ConvTranspose2d(const ConvTranspose2dParams& p, const Tensor& weight, const Tensor* bias,
                  const BatchNorm* bn = nullptr, Backend backend = default_backend());
  ~ConvTranspose2d();
  ConvTranspose2d(ConvTranspose2d&&) noexcept;
  ConvTranspose2d& operator=(ConvTranspose2d&&) noexcept;

  const ConvTranspose2dParams& params() const { return p_; }
  // (h - 1) * stride - 2 * pad + kernel + output_padding.
  int64_t out_h(int64_t h) const;
  int64_t out_w(int64_t w) const;
  void prepare(int64_t h, int64_t w) const;
  // x: [h][w][in]; y: [out_h(h)][out_w(w)][out].
  void forward(const float* x, int64_t h, int64_t w, float* y) const;

 private:
  struct Impl;
  void setup_polyphase();
  ConvTranspose2dParams p_;
  Backend backend_ = Backend::kReference;
  Tensor weight_;               // [in][out][kh][kw], BatchNorm folded
  Tensor bias_;                 // [out]
  std::unique_ptr<Impl> impl_;  // fast path via oneDNN deconvolution
  // Fast path via polyphase: one Conv2d producing stride_h*stride_w phases of out channels,
  // interleaved into y (used when every phase has the same output size).
  bool polyphase_ = false;
  Conv2d poly_;
};

// torch.nn.AvgPool2d(kernel=(kh, kw)) (stride = kernel, no padding, floor sizes) on [h][w][c]:
// y is [h/kh][w/kw][c]. Single implementation (memory bound). x and y must not overlap.
void avg_pool2d(const float* x, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, float* y);

}  // namespace rvc::nn
