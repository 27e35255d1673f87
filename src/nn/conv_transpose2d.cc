#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "conv2d_util.h"
#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "rvc/core/error.h"
#include "rvc/nn/conv2d.h"

namespace rvc::nn {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

struct ConvTranspose2d::Impl {
  struct Entry {
    dnnl::deconvolution_forward prim;
    memory::desc src_md, dst_md;
    memory weights;
  };
  std::mutex mu;
  // Keyed by (threads, (h, w)): at most Conv2d::kMaxCached shapes per thread count.
  detail::PrimitiveCache<std::pair<int64_t, int64_t>, Entry> cache{Conv2d::kMaxCached};
  memory bias;
  detail::PackedWeights packed;

  std::shared_ptr<Entry> entry(const ConvTranspose2d& c, int64_t h, int64_t w, int threads);
};

ConvTranspose2d::ConvTranspose2d() = default;
ConvTranspose2d::~ConvTranspose2d() = default;
ConvTranspose2d::ConvTranspose2d(ConvTranspose2d&&) noexcept = default;
ConvTranspose2d& ConvTranspose2d::operator=(ConvTranspose2d&&) noexcept = default;

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dParams& p, const Tensor& weight,
                                 const Tensor* bias, const BatchNorm* bn, Backend backend)
    : p_(p), backend_(backend) {
  if (p.in_channels <= 0 || p.out_channels <= 0 || p.kernel_h <= 0 || p.kernel_w <= 0 ||
      p.stride_h <= 0 || p.stride_w <= 0 || p.pad_h < 0 || p.pad_w < 0 || p.pad_h >= p.kernel_h ||
      p.pad_w >= p.kernel_w || p.output_padding_h < 0 || p.output_padding_w < 0 ||
      p.output_padding_h >= p.stride_h || p.output_padding_w >= p.stride_w) {
    fail("ConvTranspose2d: invalid parameters in=", p.in_channels, " out=", p.out_channels,
         " k=", p.kernel_h, "x", p.kernel_w, " stride=", p.stride_h, "x", p.stride_w,
         " pad=", p.pad_h, "x", p.pad_w, " output_padding=", p.output_padding_h, "x",
         p.output_padding_w);
  }
  const Shape ws{p.in_channels, p.out_channels, p.kernel_h, p.kernel_w};
  if (weight.shape() != ws) {
    fail("ConvTranspose2d: weight shape ", shape_str(weight.shape()), ", expected ", shape_str(ws));
  }
  weight_ = weight;
  bias_ = Tensor({p.out_channels});
  if (bias) {
    if (bias->shape() != Shape{p.out_channels}) {
      fail("ConvTranspose2d: bias shape ", shape_str(bias->shape()), ", expected [", p.out_channels,
           "]");
    }
    bias_ = *bias;
  }
  detail::fold_bn(bn, p.out_channels, p.kernel_h * p.kernel_w, p.in_channels, weight_, bias_);
  // oneDNN takes the right/bottom padding as pad - output_padding, which must not be negative;
  // other shapes stay on the reference loops.
  if (backend_ == Backend::kFast &&
      (p.output_padding_h > p.pad_h || p.output_padding_w > p.pad_w)) {
    backend_ = Backend::kReference;
  }
  if (backend_ == Backend::kFast) setup_polyphase();
  if (backend_ == Backend::kFast && !polyphase_) {
    impl_ = std::make_unique<Impl>();
    impl_->bias = memory({{p.out_channels}, Dt::f32, Tag::a}, detail::cpu_engine());
    std::memcpy(impl_->bias.get_data_handle(), bias_.data(), sizeof(float) * p.out_channels);
  }
}

namespace {

// Taps of one dimension: phase r of the output (o = s * m + r) reads input m + d through kernel
// tap a whenever r + pad - a == s * d.
struct PhaseTaps {
  int64_t dmin = 0, dmax = 0;
  bool ok = false;
};

PhaseTaps phase_taps(int64_t k, int64_t s, int64_t pad) {
  PhaseTaps t;
  bool first = true;
  for (int64_t r = 0; r < s; ++r) {
    for (int64_t a = 0; a < k; ++a) {
      const int64_t num = r + pad - a;
      if (((num % s) + s) % s != 0) continue;
      const int64_t d = num / s;
      t.dmin = first ? d : std::min(t.dmin, d);
      t.dmax = first ? d : std::max(t.dmax, d);
      first = false;
    }
  }
  t.ok = !first;
  return t;
}

}  // namespace

// Output o = s * m + r for m < M in every phase needs (k - 2 pad + op) divisible by s; the conv
// then reads input rows m + dmin .. m + dmax, i.e. kernel dmax - dmin + 1 with top padding
// -dmin and bottom padding M - h - top + kernel - 1 (both must be >= 0).
void ConvTranspose2d::setup_polyphase() {
  const ConvTranspose2dParams& p = p_;
  const int64_t ext_h = p.kernel_h - 2 * p.pad_h + p.output_padding_h;
  const int64_t ext_w = p.kernel_w - 2 * p.pad_w + p.output_padding_w;
  if (ext_h % p.stride_h != 0 || ext_w % p.stride_w != 0) return;
  const PhaseTaps th = phase_taps(p.kernel_h, p.stride_h, p.pad_h);
  const PhaseTaps tw = phase_taps(p.kernel_w, p.stride_w, p.pad_w);
  if (!th.ok || !tw.ok || th.dmin > 0 || tw.dmin > 0) return;
  const int64_t kh = th.dmax - th.dmin + 1, kw = tw.dmax - tw.dmin + 1;
  // M - h = ext / s - 1; bottom padding = (M - h) - top + k' - 1.
  const int64_t pb_h = ext_h / p.stride_h - 1 + th.dmin + kh - 1;
  const int64_t pb_w = ext_w / p.stride_w - 1 + tw.dmin + kw - 1;
  if (pb_h < 0 || pb_w < 0) return;
  const int64_t phases = p.stride_h * p.stride_w, co = p.out_channels, ci = p.in_channels;
  Tensor w({phases * co, ci, kh, kw});
  Tensor b({phases * co});
  for (int64_t rh = 0; rh < p.stride_h; ++rh) {
    for (int64_t rw = 0; rw < p.stride_w; ++rw) {
      const int64_t ph = rh * p.stride_w + rw;
      for (int64_t o = 0; o < co; ++o) b[ph * co + o] = bias_[o];
      for (int64_t ah = 0; ah < p.kernel_h; ++ah) {
        const int64_t nh = rh + p.pad_h - ah;
        if (((nh % p.stride_h) + p.stride_h) % p.stride_h != 0) continue;
        const int64_t th_i = nh / p.stride_h - th.dmin;
        for (int64_t aw = 0; aw < p.kernel_w; ++aw) {
          const int64_t nw = rw + p.pad_w - aw;
          if (((nw % p.stride_w) + p.stride_w) % p.stride_w != 0) continue;
          const int64_t tw_i = nw / p.stride_w - tw.dmin;
          for (int64_t o = 0; o < co; ++o) {
            for (int64_t c = 0; c < ci; ++c) {
              w[(((ph * co + o) * ci + c) * kh + th_i) * kw + tw_i] =
                  weight_[((c * co + o) * p.kernel_h + ah) * p.kernel_w + aw];
            }
          }
        }
      }
    }
  }
  Conv2dParams cp;
  cp.in_channels = ci;
  cp.out_channels = phases * co;
  cp.kernel_h = kh;
  cp.kernel_w = kw;
  cp.pad_h = -th.dmin;
  cp.pad_w = -tw.dmin;
  cp.pad_h_end = pb_h;
  cp.pad_w_end = pb_w;
  cp.post = p.post;
  cp.alpha = p.alpha;
  poly_ = Conv2d(cp, w, &b, nullptr, Backend::kFast);
  polyphase_ = true;
}

int64_t ConvTranspose2d::out_h(int64_t h) const {
  return (h - 1) * p_.stride_h - 2 * p_.pad_h + p_.kernel_h + p_.output_padding_h;
}
int64_t ConvTranspose2d::out_w(int64_t w) const {
  return (w - 1) * p_.stride_w - 2 * p_.pad_w + p_.kernel_w + p_.output_padding_w;
}

void ConvTranspose2d::prepare(int64_t h, int64_t w) const {
  if (backend_ != Backend::kFast || h <= 0 || w <= 0) return;
  if (polyphase_) {
    poly_.prepare(h, w);
    return;
  }
  impl_->entry(*this, h, w, detail::use_threads());
}

// The deconvolution entry for an (h, w) input at `threads` (the caller's
// detail::use_threads()), created on first use.
std::shared_ptr<ConvTranspose2d::Impl::Entry> ConvTranspose2d::Impl::entry(const ConvTranspose2d& c,
                                                                           int64_t h, int64_t w,
                                                                           int threads) {
  const auto key = std::make_pair(h, w);
  std::lock_guard<std::mutex> lock(mu);
  if (auto found = cache.find(threads, key)) return found;
  const ConvTranspose2dParams& p = c.p_;
  const auto& eng = detail::cpu_engine();
  memory::desc src_md({1, p.in_channels, h, w}, Dt::f32, Tag::nhwc);
  memory::desc dst_md({1, p.out_channels, c.out_h(h), c.out_w(w)}, Dt::f32, Tag::nhwc);
  const memory::dims wdims{p.out_channels, p.in_channels, p.kernel_h, p.kernel_w};
  memory::desc w_any(wdims, Dt::f32, Tag::any);
  memory::desc b_md({p.out_channels}, Dt::f32, Tag::a);
  dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::deconvolution_direct, src_md, w_any, b_md,
                                      dst_md, {p.stride_h, p.stride_w}, {p.pad_h, p.pad_w},
                                      {p.pad_h - p.output_padding_h, p.pad_w - p.output_padding_w});
  dnnl::deconvolution_forward::primitive_desc pd(d, detail::make_attr(false, p.post, p.alpha), eng);
  auto e = std::make_shared<Entry>();
  e->prim = dnnl::deconvolution_forward(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  e->weights = packed.find(pd.weights_desc());
  if (!e->weights) {
    // PyTorch's [in][out][kh][kw] is oneDNN's iohw for deconvolution weights {out, in, kh, kw}.
    memory src_w({wdims, Dt::f32, Tag::iohw}, eng, const_cast<float*>(c.weight_.data()));
    e->weights = packed.pack(src_w, pd.weights_desc());
  }
  cache.insert(threads, key, e);
  return e;
}

void ConvTranspose2d::forward(const float* x, int64_t h, int64_t w, float* y) const {
  const int64_t oh = out_h(h), ow = out_w(w);
  if (h <= 0 || w <= 0 || oh <= 0 || ow <= 0) return;
  const int64_t ci = p_.in_channels, co = p_.out_channels;
  if (backend_ == Backend::kReference) {
    // ref: torch.nn.ConvTranspose2d: out[i*s - p + a][j*s - p + b] += x[i][j] . W[:, :, a, b]
    std::vector<double> acc(static_cast<size_t>(oh * ow * co));
    for (int64_t q = 0; q < oh * ow; ++q) {
      for (int64_t o = 0; o < co; ++o) acc[static_cast<size_t>(q * co + o)] = bias_[o];
    }
    const int64_t kh = p_.kernel_h, kw = p_.kernel_w;
    for (int64_t i = 0; i < h; ++i) {
      for (int64_t j = 0; j < w; ++j) {
        const float* xp = x + (i * w + j) * ci;
        for (int64_t a = 0; a < kh; ++a) {
          const int64_t r = i * p_.stride_h - p_.pad_h + a;
          if (r < 0 || r >= oh) continue;
          for (int64_t b = 0; b < kw; ++b) {
            const int64_t c = j * p_.stride_w - p_.pad_w + b;
            if (c < 0 || c >= ow) continue;
            double* dst = acc.data() + (r * ow + c) * co;
            for (int64_t q = 0; q < ci; ++q) {
              const float* wp = weight_.data() + (q * co * kh + a) * kw + b;
              for (int64_t o = 0; o < co; ++o) {
                dst[o] += static_cast<double>(xp[q]) * wp[o * kh * kw];
              }
            }
          }
        }
      }
    }
    for (size_t q = 0; q < acc.size(); ++q) y[q] = static_cast<float>(acc[q]);
    detail::apply_post(y, acc.size(), p_.post, p_.alpha);
    return;
  }
  if (polyphase_) {
    const int64_t sh = p_.stride_h, sw = p_.stride_w, phases = sh * sw;
    const int64_t mh = poly_.out_h(h), mw = poly_.out_w(w);  // == oh / sh, ow / sw
    float* buf =
        detail::thread_scratch(detail::kScratchConvT, static_cast<size_t>(mh * mw * phases * co));
    poly_.forward(x, h, w, buf);
    for (int64_t m = 0; m < mh; ++m) {
      for (int64_t rh = 0; rh < sh; ++rh) {
        float* row = y + (m * sh + rh) * ow * co;
        for (int64_t n = 0; n < mw; ++n) {
          const float* src = buf + ((m * mw + n) * phases + rh * sw) * co;
          std::memcpy(row + n * sw * co, src, sizeof(float) * sw * co);
        }
      }
    }
    return;
  }
  const auto e = impl_->entry(*this, h, w, detail::use_threads());
  detail::run_primitive(
      e->prim,
      {detail::bound(DNNL_ARG_SRC, e->src_md, x), detail::fixed(DNNL_ARG_WEIGHTS, e->weights),
       detail::fixed(DNNL_ARG_BIAS, impl_->bias), detail::bound(DNNL_ARG_DST, e->dst_md, y)});
}

}  // namespace rvc::nn
