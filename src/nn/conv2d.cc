#include "rvc/nn/conv2d.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <tuple>
#include <vector>

#include "conv2d_util.h"
#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

namespace detail {

void fold_bn(const BatchNorm* bn, int64_t out, int64_t inner, int64_t outer, Tensor& weight,
             Tensor& bias) {
  if (!bn) return;
  if (bn->channels() != out) {
    fail("BatchNorm of ", bn->channels(), " channels after a conv of ", out, " outputs");
  }
  for (int64_t a = 0; a < outer; ++a) {
    for (int64_t o = 0; o < out; ++o) {
      float* wp = weight.data() + (a * out + o) * inner;
      const float s = bn->scale()[o];
      for (int64_t i = 0; i < inner; ++i) wp[i] *= s;
    }
  }
  for (int64_t o = 0; o < out; ++o) bias[o] = bias[o] * bn->scale()[o] + bn->shift()[o];
}

}  // namespace detail

// Small feature maps (RMVPE's bottleneck: 512 channels on 32 x 4 pixels) run as im2col + one
// matmul: brgconv reaches about half of the matmul's rate on so few pixels.
constexpr int64_t kGemmMaxPixels = 256;
constexpr int64_t kGemmMinReduce = 1024;  // in_channels * kernel_h * kernel_w
// Winograd (blocked layout only), measured here on RMVPE's maps at 2 threads against brgconv:
// it wins from 64 channels on 128+ pixels (64 ch on 256x32: 0.80 vs 1.52 ms; 128 ch on
// 128x16: 0.91 vs 1.43 ms) and loses on 16 channels or tiny maps. Wider layers would win
// too (512 ch on 32x4: 0.76 vs 1.7 ms) but are left on the direct path: oneDNN transforms
// their weights slowly and into a larger copy (512x512: 67-157 ms and 17-38 MB per layer, so
// ~3 s and +0.8 GB for RMVPE's first call), and F(4x4,3x3)'s rounding grows with the channel
// count (relative error 1.5e-5 at 256).
constexpr int64_t kWinoMinChannels = 64;
constexpr int64_t kWinoMaxChannels = 128;
constexpr int64_t kWinoMinPixels = 128;

// oneDNN 2.6 has f32 Winograd kernels for AVX-512 (avx512_core) only; elsewhere the blocked
// layout would only add conversions (and nChw16c is not AVX2's native blocking).
bool winograd_isa() {
  static const bool ok = [] {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
    const auto need = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
    return (isa & need) == need;
  }();
  return ok;
}

bool winograd_shape(const Conv2dParams& p, int64_t h, int64_t w) {
  return p.kernel_h == 3 && p.kernel_w == 3 && p.pad_h == 1 && p.pad_w == 1 &&
         p.pad_bottom() == 1 && p.pad_right() == 1 && p.in_channels % 16 == 0 &&
         p.out_channels % 16 == 0 && std::min(p.in_channels, p.out_channels) >= kWinoMinChannels &&
         std::max(p.in_channels, p.out_channels) <= kWinoMaxChannels && h * w >= kWinoMinPixels;
}

struct Conv2d::Impl {
  struct Entry {
    dnnl::primitive prim;  // convolution_forward, or matmul on im2col rows when gemm
    memory::desc src_md, dst_md;
    memory weights;
    memory bias;  // Impl::bias for the conv; its [1][out] copy for the matmul
    bool gemm = false;
    // gemm: the taps [i0, i1) x [j0, j1) that read input somewhere; the others read only
    // padding for every output pixel of this shape (RMVPE's bottleneck map is 1 pixel high,
    // so a 3x3 kernel's top and bottom rows never touch data) and are left out of the matmul.
    int64_t i0 = 0, i1 = 0, j0 = 0, j1 = 0;
  };
  std::mutex mu;
  // Keyed by (threads, (h, w, accumulate, blocked)): at most kMaxCached shapes per thread count.
  detail::PrimitiveCache<std::tuple<int64_t, int64_t, bool, bool>, Entry> cache{kMaxCached};
  memory bias;
  detail::PackedWeights packed;       // conv weights, one copy per layout
  detail::PackedWeights packed_gemm;  // [kdim][out] im2col-matmul weights, one copy per layout

  std::shared_ptr<Entry> entry(const Conv2dParams& p, const Tensor& weight, int64_t h, int64_t w,
                               bool accumulate, bool blocked, Precision precision, int threads);
};

Conv2d::Conv2d() = default;
Conv2d::~Conv2d() = default;
Conv2d::Conv2d(Conv2d&&) noexcept = default;
Conv2d& Conv2d::operator=(Conv2d&&) noexcept = default;

Conv2d::Conv2d(const Conv2dParams& p, const Tensor& weight, const Tensor* bias, const BatchNorm* bn,
               Backend backend)
    : p_(p), backend_(backend) {
  if (p.in_channels <= 0 || p.out_channels <= 0 || p.kernel_h <= 0 || p.kernel_w <= 0 ||
      p.pad_h < 0 || p.pad_w < 0 || p.pad_h_end < -1 || p.pad_w_end < -1 ||
      std::max(p.pad_h, p.pad_bottom()) >= p.kernel_h ||
      std::max(p.pad_w, p.pad_right()) >= p.kernel_w) {
    fail("Conv2d: invalid parameters in=", p.in_channels, " out=", p.out_channels,
         " k=", p.kernel_h, "x", p.kernel_w, " pad=", p.pad_h, "x", p.pad_w,
         " (padding must be smaller than the kernel)");
  }
  const Shape ws{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
  if (weight.shape() != ws) {
    fail("Conv2d: weight shape ", shape_str(weight.shape()), ", expected ", shape_str(ws));
  }
  weight_ = weight;
  bias_ = Tensor({p.out_channels});
  if (bias) {
    if (bias->shape() != Shape{p.out_channels}) {
      fail("Conv2d: bias shape ", shape_str(bias->shape()), ", expected [", p.out_channels, "]");
    }
    bias_ = *bias;
  }
  detail::fold_bn(bn, p.out_channels, p.in_channels * p.kernel_h * p.kernel_w, 1, weight_, bias_);
  if (backend_ == Backend::kFast) {
    precision_ = effective_precision(default_precision());
    impl_ = std::make_unique<Impl>();
    impl_->bias = memory({{p.out_channels}, Dt::f32, Tag::a}, detail::cpu_engine());
    std::memcpy(impl_->bias.get_data_handle(), bias_.data(), sizeof(float) * p.out_channels);
  }
}

std::shared_ptr<Conv2d::Impl::Entry> Conv2d::Impl::entry(const Conv2dParams& p,
                                                         const Tensor& weight, int64_t h, int64_t w,
                                                         bool accumulate, bool blocked,
                                                         Precision precision, int threads) {
  const auto key = std::make_tuple(h, w, accumulate, blocked);
  std::lock_guard<std::mutex> lock(mu);
  if (auto found = cache.find(threads, key)) return found;
  const auto& eng = detail::cpu_engine();
  const int64_t oh = h + p.pad_h + p.pad_bottom() - p.kernel_h + 1;
  const int64_t ow = w + p.pad_w + p.pad_right() - p.kernel_w + 1;
  const Dt dt = precision == Precision::kBf16 ? Dt::bf16 : Dt::f32;
  const dnnl::primitive_attr attr =
      detail::make_attr(accumulate, p.post, p.alpha, detail::SumOrder::kAfterActivation);
  if (!blocked && oh * ow <= kGemmMaxPixels &&
      p.in_channels * p.kernel_h * p.kernel_w >= kGemmMinReduce) {
    // Tap row i reads input rows r + i - pad_h for output rows r in [0, oh).
    const int64_t i0 = std::max<int64_t>(0, p.pad_h - oh + 1);
    const int64_t i1 = std::min<int64_t>(p.kernel_h, p.pad_h + h);
    const int64_t j0 = std::max<int64_t>(0, p.pad_w - ow + 1);
    const int64_t j1 = std::min<int64_t>(p.kernel_w, p.pad_w + w);
    const int64_t kh = i1 - i0, kw = j1 - j0, kdim = p.in_channels * kh * kw;
    // y[pixel][out] = col[pixel][(i * kw + j) * in + c] . wk[(i * kw + j) * in + c][out] + b,
    // i and j counted from i0 and j0
    memory::desc col_md({oh * ow, kdim}, dt, Tag::ab);
    memory::desc dst_md({oh * ow, p.out_channels}, Dt::f32, Tag::ab);
    memory::desc w_any({kdim, p.out_channels}, dt, Tag::any);
    memory::desc b_md({1, p.out_channels}, Dt::f32, Tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(col_md, w_any, b_md, dst_md), attr, eng);
    auto e = std::make_shared<Entry>();
    e->gemm = true;
    e->i0 = i0;
    e->i1 = i1;
    e->j0 = j0;
    e->j1 = j1;
    e->prim = dnnl::matmul(pd);
    e->src_md = col_md;
    e->dst_md = dst_md;
    e->weights = packed_gemm.find(pd.weights_desc());
    if (!e->weights) {
      Tensor wk({kdim, p.out_channels});
      const int64_t taps = p.kernel_h * p.kernel_w;
      for (int64_t o = 0; o < p.out_channels; ++o) {
        for (int64_t c = 0; c < p.in_channels; ++c) {
          for (int64_t i = i0; i < i1; ++i) {
            for (int64_t j = j0; j < j1; ++j) {
              const int64_t t = (i - i0) * kw + (j - j0);
              wk[(t * p.in_channels + c) * p.out_channels + o] =
                  weight[(o * p.in_channels + c) * taps + i * p.kernel_w + j];
            }
          }
        }
      }
      memory src_w({{kdim, p.out_channels}, Dt::f32, Tag::ab}, eng, wk.data());
      e->weights = packed_gemm.pack(src_w, pd.weights_desc());
    }
    e->bias = memory(b_md, eng);
    std::memcpy(e->bias.get_data_handle(), bias.get_data_handle(),
                sizeof(float) * static_cast<size_t>(p.out_channels));
    cache.insert(threads, key, e);
    return e;
  }
  const Tag tag = blocked ? Tag::nChw16c : Tag::nhwc;
  memory::desc src_md({1, p.in_channels, h, w}, dt, tag);
  memory::desc dst_md({1, p.out_channels, oh, ow}, Dt::f32, tag);
  const memory::dims wdims{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
  memory::desc w_any(wdims, dt, Tag::any);
  memory::desc b_md({p.out_channels}, Dt::f32, Tag::a);
  const auto make_pd = [&](dnnl::algorithm alg) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, alg, src_md, w_any, b_md,
                                      dst_md, {1, 1}, {p.pad_h, p.pad_w},
                                      {p.pad_bottom(), p.pad_right()});
    return dnnl::convolution_forward::primitive_desc(d, attr, eng);
  };
  dnnl::convolution_forward::primitive_desc pd;
  bool have_pd = false;
  if (blocked && precision == Precision::kF32 && winograd_shape(p, h, w)) {
    try {  // oneDNN has no Winograd kernel for this CPU / post-op mix: direct instead
      pd = make_pd(dnnl::algorithm::convolution_winograd);
      have_pd = true;
    } catch (const dnnl::error&) {
    }
  }
  if (!have_pd) pd = make_pd(dnnl::algorithm::convolution_direct);
  auto e = std::make_shared<Entry>();
  e->prim = dnnl::convolution_forward(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  e->bias = bias;
  e->weights = packed.find(pd.weights_desc());
  if (!e->weights) {
    memory src_w({wdims, Dt::f32, Tag::oihw}, eng, const_cast<float*>(weight.data()));
    e->weights = packed.pack(src_w, pd.weights_desc());
  }
  cache.insert(threads, key, e);
  return e;
}

void Conv2d::prepare(int64_t h, int64_t w, bool accumulate, MapLayout layout) const {
  if (backend_ != Backend::kFast || out_h(h) <= 0 || out_w(w) <= 0) return;
  impl_->entry(p_, weight_, h, w, accumulate, layout == MapLayout::kBlocked16, precision_,
               detail::use_threads());
}

bool Conv2d::prefers_blocked(int64_t h, int64_t w) const {
  return backend_ == Backend::kFast && precision_ == Precision::kF32 && winograd_isa() &&
         winograd_shape(p_, h, w);
}

void to_blocked16(const float* x, int64_t pixels, int64_t c, float* y) {
  if (c % 16 != 0) fail("to_blocked16: ", c, " channels is not a multiple of 16");
  for (int64_t b = 0; b < c / 16; ++b) {
    float* dst = y + b * pixels * 16;
    for (int64_t q = 0; q < pixels; ++q) std::memcpy(dst + q * 16, x + q * c + b * 16, 64);
  }
}

void from_blocked16(const float* x, int64_t pixels, int64_t c, float* y) {
  if (c % 16 != 0) fail("from_blocked16: ", c, " channels is not a multiple of 16");
  for (int64_t b = 0; b < c / 16; ++b) {
    const float* src = x + b * pixels * 16;
    for (int64_t q = 0; q < pixels; ++q) std::memcpy(y + q * c + b * 16, src + q * 16, 64);
  }
}

namespace {

void conv2d_reference(const Conv2dParams& p, const float* wt, const float* b, const float* x,
                      int64_t h, int64_t w, float* y, int64_t oh, int64_t ow, bool accumulate) {
  const int64_t ci = p.in_channels, co = p.out_channels, kh = p.kernel_h, kw = p.kernel_w;
  std::vector<double> acc(static_cast<size_t>(co));
  for (int64_t r = 0; r < oh; ++r) {
    for (int64_t c = 0; c < ow; ++c) {
      for (int64_t o = 0; o < co; ++o) acc[static_cast<size_t>(o)] = b[o];
      for (int64_t i = 0; i < kh; ++i) {
        const int64_t hs = r + i - p.pad_h;
        if (hs < 0 || hs >= h) continue;
        for (int64_t j = 0; j < kw; ++j) {
          const int64_t wsrc = c + j - p.pad_w;
          if (wsrc < 0 || wsrc >= w) continue;
          const float* xp = x + (hs * w + wsrc) * ci;
          for (int64_t o = 0; o < co; ++o) {
            const float* wp = wt + (o * ci * kh + i) * kw + j;
            double s = 0.0;
            for (int64_t q = 0; q < ci; ++q) s += static_cast<double>(xp[q]) * wp[q * kh * kw];
            acc[static_cast<size_t>(o)] += s;
          }
        }
      }
      float* yp = y + (r * ow + c) * co;
      for (int64_t o = 0; o < co; ++o) {
        float v = static_cast<float>(acc[static_cast<size_t>(o)]);
        detail::apply_post(&v, 1, p.post, p.alpha);
        yp[o] = accumulate ? yp[o] + v : v;
      }
    }
  }
}

}  // namespace

void Conv2d::forward(const float* x, int64_t h, int64_t w, float* y, bool accumulate,
                     MapLayout layout) const {
  const int64_t oh = out_h(h), ow = out_w(w);
  if (oh <= 0 || ow <= 0) return;
  const bool blocked = layout == MapLayout::kBlocked16;
  if (blocked && (p_.in_channels % 16 != 0 || p_.out_channels % 16 != 0)) {
    fail("Conv2d: the blocked layout needs channel counts that are multiples of 16, got ",
         p_.in_channels, " -> ", p_.out_channels);
  }
  if (backend_ == Backend::kReference) {
    if (!blocked) {
      conv2d_reference(p_, weight_.data(), bias_.data(), x, h, w, y, oh, ow, accumulate);
      return;
    }
    std::vector<float> xn(static_cast<size_t>(h * w * p_.in_channels));
    std::vector<float> yn(static_cast<size_t>(oh * ow * p_.out_channels));
    from_blocked16(x, h * w, p_.in_channels, xn.data());
    if (accumulate) from_blocked16(y, oh * ow, p_.out_channels, yn.data());
    conv2d_reference(p_, weight_.data(), bias_.data(), xn.data(), h, w, yn.data(), oh, ow,
                     accumulate);
    to_blocked16(yn.data(), oh * ow, p_.out_channels, y);
    return;
  }
  const auto e =
      impl_->entry(p_, weight_, h, w, accumulate, blocked, precision_, detail::use_threads());
  const float* in = x;
  size_t n = static_cast<size_t>(h * w * p_.in_channels);
  if (e->gemm) {
    // im2col rows of the active taps (zeros where a tap reads padding), in the weights' (tap,
    // channel) order.
    const int64_t ci = p_.in_channels, kh = e->i1 - e->i0, kw = e->j1 - e->j0;
    const int64_t kdim = ci * kh * kw;
    n = static_cast<size_t>(oh * ow * kdim);
    float* col = detail::thread_scratch(detail::kScratchConvIn, n);
    for (int64_t r = 0; r < oh; ++r) {
      for (int64_t c = 0; c < ow; ++c) {
        for (int64_t i = 0; i < kh; ++i) {
          const int64_t hs = r + e->i0 + i - p_.pad_h;
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t ws = c + e->j0 + j - p_.pad_w;
            float* dst = col + (r * ow + c) * kdim + (i * kw + j) * ci;
            if (hs < 0 || hs >= h || ws < 0 || ws >= w) {
              std::memset(dst, 0, sizeof(float) * static_cast<size_t>(ci));
            } else {
              std::memcpy(dst, x + (hs * w + ws) * ci, sizeof(float) * static_cast<size_t>(ci));
            }
          }
        }
      }
    }
    in = col;
  }
  const void* src = in;
  if (precision_ == Precision::kBf16) {
    uint16_t* b = detail::bf16_scratch(1, n);
    detail::to_bf16(in, b, n);
    src = b;
  }
  detail::run_primitive(
      e->prim,
      {detail::bound(DNNL_ARG_SRC, e->src_md, src), detail::fixed(DNNL_ARG_WEIGHTS, e->weights),
       detail::fixed(DNNL_ARG_BIAS, e->bias), detail::bound(DNNL_ARG_DST, e->dst_md, y)});
}

void avg_pool2d(const float* x, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, float* y) {
  if (kh <= 0 || kw <= 0) fail("avg_pool2d: kernel ", kh, "x", kw, " must be positive");
  const int64_t oh = h / kh, ow = w / kw;
  for (int64_t r = 0; r < oh; ++r) {
    for (int64_t q = 0; q < ow; ++q) {
      float* dst = y + (r * ow + q) * c;
      const float* first = x + ((r * kh) * w + q * kw) * c;
      std::memcpy(dst, first, sizeof(float) * c);
      for (int64_t i = 0; i < kh; ++i) {
        for (int64_t j = (i == 0 ? 1 : 0); j < kw; ++j) {
          const float* src = x + ((r * kh + i) * w + q * kw + j) * c;
          for (int64_t ch = 0; ch < c; ++ch) dst[ch] += src[ch];
        }
      }
      // PyTorch divides the window sum by the window size (AvgPool2d, no divisor_override).
      for (int64_t ch = 0; ch < c; ++ch) dst[ch] = dst[ch] / static_cast<float>(kh * kw);
    }
  }
}

}  // namespace rvc::nn
