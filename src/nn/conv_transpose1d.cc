// ConvTranspose1d. Fast path: polyphase rewrite as one Conv1d (see conv1d.h).
//
// With o + padding = q*stride + r, output frame o gets sum_m x[q-m] * W[:, :, m*stride + r]. A
// conv with M = ceil(k/stride) taps and stride*Cout output channels ordered (r, c) computes
// every phase of row q at once; in [T][C] layout its output rows, read as frames of Cout
// channels, are exactly the transposed conv's output shifted by padding - (padding/stride)*stride.
#include <algorithm>
#include <cstring>

#include "dnnl_util.h"
#include "rvc/core/error.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn {

ConvTranspose1d::ConvTranspose1d(const ConvTranspose1dParams& p, const Tensor& weight,
                                 const Tensor* bias, Backend backend)
    : p_(p), backend_(backend) {
  if (p.in_channels <= 0 || p.out_channels <= 0 || p.kernel <= 0 || p.stride <= 0 ||
      p.padding < 0 || p.padding >= p.kernel || p.output_padding < 0 ||
      p.output_padding >= p.stride) {
    fail("ConvTranspose1d: invalid parameters in=", p.in_channels, " out=", p.out_channels,
         " k=", p.kernel, " stride=", p.stride, " padding=", p.padding);
  }
  Shape ws{p.in_channels, p.out_channels, p.kernel};
  if (weight.shape() != ws) {
    fail("ConvTranspose1d: weight shape ", shape_str(weight.shape()), ", expected ", shape_str(ws));
  }
  weight_ = weight;
  bias_ = Tensor({p.out_channels});
  if (bias) {
    if (bias->shape() != Shape{p.out_channels}) {
      fail("ConvTranspose1d: bias shape ", shape_str(bias->shape()), ", expected [", p.out_channels,
           "]");
    }
    bias_ = *bias;
  }
  if (backend_ != Backend::kFast) return;
  const int64_t s = p.stride, k = p.kernel, ci = p.in_channels, co = p.out_channels;
  taps_ = (k + s - 1) / s;
  Tensor wc({s * co, ci, taps_});
  Tensor bc({s * co});
  for (int64_t r = 0; r < s; ++r) {
    for (int64_t c = 0; c < co; ++c) {
      bc[r * co + c] = bias_[c];
      for (int64_t i = 0; i < ci; ++i) {
        for (int64_t tap = 0; tap < taps_; ++tap) {
          int64_t j = (taps_ - 1 - tap) * s + r;
          wc[((r * co + c) * ci + i) * taps_ + tap] = j < k ? weight_[(i * co + c) * k + j] : 0.f;
        }
      }
    }
  }
  Conv1dParams cp;
  cp.in_channels = ci;
  cp.out_channels = s * co;
  cp.kernel = taps_;
  cp.pad_left = (taps_ - 1) - p.padding / s;
  cp.pad_right = std::max<int64_t>(0, (k - 1 - p.padding + p.output_padding) / s);
  cp.post = p.post;
  cp.alpha = p.alpha;
  poly_ = Conv1d(cp, wc, &bc, Backend::kFast);
}

int64_t ConvTranspose1d::out_length(int64_t t_in) const {
  if (t_in <= 0) return 0;
  return (t_in - 1) * p_.stride - 2 * p_.padding + p_.kernel + p_.output_padding;
}

void ConvTranspose1d::prepare(int64_t t_in) const {
  if (backend_ == Backend::kFast) poly_.prepare(t_in);
}

void ConvTranspose1d::forward(const float* x, int64_t t_in, float* y, int64_t plan_t_in) const {
  const int64_t t_out = out_length(t_in);
  if (t_out <= 0) return;
  const int64_t s = p_.stride, k = p_.kernel, ci = p_.in_channels, co = p_.out_channels;
  if (backend_ == Backend::kReference) {
    for (int64_t o = 0; o < t_out; ++o) std::memcpy(y + o * co, bias_.data(), sizeof(float) * co);
    for (int64_t t = 0; t < t_in; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        int64_t o = t * s + j - p_.padding;
        if (o < 0 || o >= t_out) continue;
        float* yr = y + o * co;
        for (int64_t i = 0; i < ci; ++i) {
          float xv = x[t * ci + i];
          const float* wr = weight_.data() + i * co * k + j;
          for (int64_t c = 0; c < co; ++c) yr[c] += xv * wr[c * k];
        }
      }
    }
    detail::apply_post(y, static_cast<size_t>(t_out * co), p_.post, p_.alpha);
    return;
  }
  int64_t rows = poly_.out_length(t_in);
  float* buf = detail::thread_scratch(detail::kScratchConvT, static_cast<size_t>(rows * s * co));
  poly_.forward(x, t_in, buf, ConvEpilogue{}, plan_t_in);
  int64_t offset = p_.padding - (p_.padding / s) * s;
  std::memcpy(y, buf + offset * co, sizeof(float) * t_out * co);
}

void ConvTranspose1d::forward(const Tensor& x, Tensor& y) const {
  if (x.ndim() != 2 || x.dim(1) != p_.in_channels) {
    fail("ConvTranspose1d: input shape ", shape_str(x.shape()), ", expected [T, ", p_.in_channels,
         "]");
  }
  y.resize({out_length(x.dim(0)), p_.out_channels});
  forward(x.data(), x.dim(0), y.data());
}

}  // namespace rvc::nn
