// rvc/nn/conv1d.h: 1-D convolution and transposed convolution on [T][C] activations.
//
// Conv1d matches torch.nn.Conv1d (cross-correlation) with stride, dilation, groups, explicit
// left/right zero padding and optional bias, plus two fused epilogues:
//   y = post(conv(x) + bias)              (accumulate = false)
//   y = post(y + conv(x) + bias)          (accumulate = true: residual add into y)
// where post is PostOp (none, leaky ReLU with slope `alpha`, ReLU, tanh).
// ConvTranspose1d matches torch.nn.ConvTranspose1d (groups = 1, dilation = 1) with any
// kernel/stride/padding; the fast path rewrites it as one polyphase Conv1d of
// ceil(k/stride) taps producing stride*Cout channels, so its [T][C] output is a plain
// reinterpretation of that conv's buffer (no deconvolution primitive).
//
// A forward call may add a fused epilogue (ConvEpilogue): a residual tensor added before the
// layer's activation, then a scale and a second activation (HiFi-GAN's resblock average).
//
// Precision: a fast layer built while default_precision() is kBf16 (and the CPU has native
// bf16) packs its weights to bf16 and rounds each input to bf16; accumulation, bias, epilogue
// and output stay f32 (relative error ~3e-3 per layer). Otherwise f32.
//
// Construction copies/repacks the weights; the layer is then immutable. forward() is const and
// thread-safe: fast-path oneDNN primitives are created on the first call for each input length
// (under a mutex) and cached; call prepare(t_in) at setup to keep that cost off real-time paths.
// Buffers: x holds t_in rows of in_channels floats, y must hold out_length(t_in) rows of
// out_channels floats; x and y must not overlap.
#pragma once

#include <cstdint>
#include <memory>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"

namespace rvc::nn {

enum class PostOp { kNone = 0, kLeakyRelu = 1, kRelu = 2, kTanh = 3 };

struct Conv1dParams {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_left = 0;
  int64_t pad_right = 0;
  int64_t groups = 1;
  PostOp post = PostOp::kNone;
  float alpha = 0.f;  // leaky ReLU slope

  // Symmetric "PyTorch padding=p".
  Conv1dParams& pad(int64_t p) {
    pad_left = pad_right = p;
    return *this;
  }
};

// Per-call epilogue, applied to conv(x) + bias in this order:
//   + y (accumulate) or + residual rows; the layer's own post (params().post, alpha);
//   * scale; post2 (slope alpha2 for leaky ReLU).
// residual: t_out rows of out_channels floats, must not overlap y. Each distinct combination
// (accumulate, residual or not, scale, post2, alpha2) is its own cached primitive.
// pre (kNone or kLeakyRelu with slope pre_alpha) is applied to the input as it is read (x itself
// is unchanged): the convolution of pre(x). Only the reference and DFT paths (uses_fft()) take
// it; another layer throws.
struct ConvEpilogue {
  bool accumulate = false;
  const float* residual = nullptr;
  float scale = 1.f;
  PostOp post2 = PostOp::kNone;
  float alpha2 = 0.f;
  PostOp pre = PostOp::kNone;
  float pre_alpha = 0.f;
};

class Conv1d {
 public:
  Conv1d();
  // weight: [out][in/groups][kernel]; bias: [out] or nullptr. Throws rvc::Error on a shape
  // mismatch or invalid parameters.
  Conv1d(const Conv1dParams& p, const Tensor& weight, const Tensor* bias,
         Backend backend = default_backend());
  ~Conv1d();
  Conv1d(Conv1d&&) noexcept;
  Conv1d& operator=(Conv1d&&) noexcept;

  const Conv1dParams& params() const { return p_; }
  Backend backend() const { return backend_; }
  // Output frames for t_in input frames (0 if the input is too short).
  int64_t out_length(int64_t t_in) const;
  Precision precision() const { return precision_; }
  // True when the fast path runs this layer as a small-tile DFT convolution (see
  // set_conv1d_fft).
  bool uses_fft() const;
  // Whether this DFT-path layer runs a call planned for t_out outputs direct instead (see
  // set_conv1d_fft_short_limit); false for other layers.
  bool direct_for(int64_t t_out) const;
  // The multiply-adds per (input, output) channel pair of one single-threaded call of t_out
  // outputs planned for plan_t_out (>= t_out): t_out * taps direct; on the DFT path its bin
  // products, which run in whole chunks of the plan's tile count. For balancing work between
  // threads; the transforms are left out.
  double work(int64_t t_out, int64_t plan_t_out) const;
  // Creates the fast-path primitives for this input length (no-op for the reference backend).
  void prepare(int64_t t_in, bool accumulate = false) const;
  // Same for an epilogue (its residual pointer is ignored; only whether it is set matters).
  void prepare(int64_t t_in, const ConvEpilogue& ep) const;

  void forward(const float* x, int64_t t_in, float* y, bool accumulate = false) const;
  // With a fused epilogue. plan_t_in >= t_in: run with the primitive prepared for plan_t_in
  // input frames (shorter inputs are zero-padded into thread-local scratch), so that calls of
  // any length up to plan_t_in create no primitive and allocate nothing once one call of that
  // plan has run (apart from the small argument map oneDNN 2.6 builds inside its execute).
  void forward(const float* x, int64_t t_in, float* y, const ConvEpilogue& ep,
               int64_t plan_t_in = -1) const;
  // Tensor form: x is {t_in, in}; y is resized to {t_out, out} (must already be that shape when
  // accumulate is true).
  void forward(const Tensor& x, Tensor& y, bool accumulate = false) const;

 private:
  struct Impl;
  struct Entry;
  // Fast path: the cached primitive for chunk length lc (created on first use).
  Entry* entry(int64_t lc, const ConvEpilogue& ep) const;
  int64_t plan_chunk(int64_t t_in, int64_t plan_t_in) const;
  Conv1dParams p_;
  Backend backend_ = Backend::kReference;
  Precision precision_ = Precision::kF32;
  Tensor weight_;  // [out][in/groups][k], reference layout
  Tensor bias_;    // [out] (zeros when absent)
  std::unique_ptr<Impl> impl_;
};

// DFT convolution: fast f32 layers built while this is on (the default) with stride 1, no
// groups, a kernel of 5..16 taps and 32+ channels (3..4 taps and 128+ channels; multiples of 16)
// run as overlap-save tiles of a 32-point real DFT with the channel mixing done per frequency bin
// as matrix products: 2-5x fewer multiply-adds than the direct convolution for 3..11 taps
// (HiFi-GAN's resblocks), same result to float rounding. Off: every layer runs oneDNN's direct
// convolution.
void set_conv1d_fft(bool enabled);
bool conv1d_fft_enabled();
// A DFT-path layer runs a call direct when its outputs (the plan length) times its taps are
// below this (default kConv1dFftShortLimit): on a short input the DFT's bin products stream
// 48 spectra matrices (up to 12 MiB per layer) for a few tiles, which costs more than the
// direct convolution's FLOPs (a stream block's decoder: 256 channels x 150 samples). 0: never.
// Process-wide, read on every call; for tests and benchmarks.
constexpr int64_t kConv1dFftShortLimit = 3000;
void set_conv1d_fft_short_limit(int64_t outputs_times_taps);

struct ConvTranspose1dParams {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padding = 0;         // must be < kernel
  int64_t output_padding = 0;  // extra frames at the end, as in PyTorch
  PostOp post = PostOp::kNone;
  float alpha = 0.f;
};

class ConvTranspose1d {
 public:
  ConvTranspose1d() = default;
  // weight: [in][out][kernel] (PyTorch layout); bias: [out] or nullptr.
  ConvTranspose1d(const ConvTranspose1dParams& p, const Tensor& weight, const Tensor* bias,
                  Backend backend = default_backend());

  const ConvTranspose1dParams& params() const { return p_; }
  // (t_in - 1) * stride - 2 * padding + kernel + output_padding.
  int64_t out_length(int64_t t_in) const;
  void prepare(int64_t t_in) const;
  // Uses a thread-local scratch buffer on the fast path (grown, never shrunk). plan_t_in as in
  // Conv1d::forward.
  void forward(const float* x, int64_t t_in, float* y, int64_t plan_t_in = -1) const;
  void forward(const Tensor& x, Tensor& y) const;

 private:
  ConvTranspose1dParams p_;
  Backend backend_ = Backend::kReference;
  Tensor weight_;  // reference: [in][out][k]
  Tensor bias_;
  int64_t taps_ = 0;  // fast: ceil(k / stride)
  Conv1d poly_;       // fast: in -> stride*out channels, taps_ taps
};

}  // namespace rvc::nn
