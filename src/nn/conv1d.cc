#include "rvc/nn/conv1d.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "conv1d_fft.h"
#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

struct Conv1d::Entry {
  dnnl::convolution_forward prim;
  memory::desc src_md, dst_md;
  memory weights;  // packed for this primitive
};

namespace {
// Cache key: chunk length, the epilogue's shape and the thread count (a oneDNN primitive keeps
// the thread count it was created with).
using EntryKey = std::tuple<int64_t, bool, float, int, float, int>;
EntryKey key_of(int64_t lc, const ConvEpilogue& ep) {
  return {lc,        ep.accumulate,        ep.scale, static_cast<int>(ep.post2),
          ep.alpha2, detail::use_threads()};
}
std::atomic<bool> g_fft_enabled{true};
std::atomic<int64_t> g_fft_short_limit{kConv1dFftShortLimit};
// The epilogue the primitive runs: a residual is copied into the output chunk and added by the
// sum post-op (oneDNN 2.6's brgconv has no binary post-op and falls back to a ~20% slower
// kernel for one).
ConvEpilogue primitive_epilogue(const ConvEpilogue& ep) {
  ConvEpilogue r = ep;
  r.residual = nullptr;
  r.accumulate = ep.accumulate || ep.residual != nullptr;
  return r;
}
}  // namespace

struct Conv1d::Impl {
  std::mutex mu;
  std::map<EntryKey, std::unique_ptr<Entry>> cache;
  memory bias;
  // First packed weights and their desc, shared by entries whose desc matches.
  memory packed;
  std::unique_ptr<detail::FftConv1d> fft;  // set when the DFT path serves this layer
};

void set_conv1d_fft(bool enabled) { g_fft_enabled = enabled; }
void set_conv1d_fft_short_limit(int64_t outputs_times_taps) {
  g_fft_short_limit = outputs_times_taps;
}
bool conv1d_fft_enabled() { return g_fft_enabled; }

Conv1d::Conv1d() = default;
Conv1d::~Conv1d() = default;
Conv1d::Conv1d(Conv1d&&) noexcept = default;
Conv1d& Conv1d::operator=(Conv1d&&) noexcept = default;

Conv1d::Conv1d(const Conv1dParams& p, const Tensor& weight, const Tensor* bias, Backend backend)
    : p_(p), backend_(backend) {
  if (backend_ == Backend::kFast) precision_ = effective_precision(default_precision());
  if (p.in_channels <= 0 || p.out_channels <= 0 || p.kernel <= 0 || p.stride <= 0 ||
      p.dilation <= 0 || p.groups <= 0 || p.pad_left < 0 || p.pad_right < 0 ||
      p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0) {
    fail("Conv1d: invalid parameters in=", p.in_channels, " out=", p.out_channels, " k=", p.kernel,
         " stride=", p.stride, " dilation=", p.dilation, " groups=", p.groups);
  }
  Shape ws{p.out_channels, p.in_channels / p.groups, p.kernel};
  if (weight.shape() != ws) {
    fail("Conv1d: weight shape ", shape_str(weight.shape()), ", expected ", shape_str(ws));
  }
  weight_ = weight;
  bias_ = Tensor({p.out_channels});
  if (bias) {
    if (bias->shape() != Shape{p.out_channels}) {
      fail("Conv1d: bias shape ", shape_str(bias->shape()), ", expected [", p.out_channels, "]");
    }
    bias_ = *bias;
  }
  if (backend_ == Backend::kFast) {
    impl_ = std::make_unique<Impl>();
    impl_->bias = memory({{p.out_channels}, Dt::f32, Tag::a}, detail::cpu_engine());
    std::memcpy(impl_->bias.get_data_handle(), bias_.data(), sizeof(float) * p.out_channels);
    if (precision_ == Precision::kF32 && g_fft_enabled && detail::FftConv1d::suits(p)) {
      impl_->fft = std::make_unique<detail::FftConv1d>(p, weight_.data(), bias_.data());
    }
  }
}

bool Conv1d::uses_fft() const { return impl_ && impl_->fft; }

bool Conv1d::direct_for(int64_t t_out) const {
  return impl_ && impl_->fft && t_out * p_.kernel < g_fft_short_limit.load();
}

double Conv1d::work(int64_t t_out, int64_t plan_t_out) const {
  if (impl_ && impl_->fft && !direct_for(std::max(t_out, plan_t_out))) {
    return impl_->fft->work(t_out, plan_t_out);
  }
  return static_cast<double>(t_out * p_.kernel);
}

int64_t Conv1d::out_length(int64_t t_in) const {
  int64_t span = p_.dilation * (p_.kernel - 1) + 1;
  int64_t padded = t_in + p_.pad_left + p_.pad_right;
  if (padded < span) return 0;
  return (padded - span) / p_.stride + 1;
}

void Conv1d::prepare(int64_t t_in, bool accumulate) const {
  ConvEpilogue ep;
  ep.accumulate = accumulate;
  prepare(t_in, ep);
}

void Conv1d::prepare(int64_t t_in, const ConvEpilogue& ep) const {
  if (backend_ != Backend::kFast || out_length(t_in) <= 0) return;
  if (impl_->fft && !direct_for(out_length(t_in))) {
    impl_->fft->prepare(out_length(t_in));
    return;
  }
  entry(detail::chunk_length(out_length(t_in)), primitive_epilogue(ep));
}

int64_t Conv1d::plan_chunk(int64_t t_in, int64_t plan_t_in) const {
  return detail::chunk_length(out_length(std::max(t_in, plan_t_in)));
}

// One primitive per (chunk length, epilogue without residual): input of exactly the rows the chunk
// reads, no implicit padding (boundary chunks are copied into a zero-padded scratch by forward()).
Conv1d::Entry* Conv1d::entry(int64_t lc, const ConvEpilogue& ep) const {
  const EntryKey key = key_of(lc, ep);
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->cache.find(key);
  if (it != impl_->cache.end()) return it->second.get();
  const auto& eng = detail::cpu_engine();
  const int64_t span = p_.dilation * (p_.kernel - 1) + 1;
  const int64_t lin = (lc - 1) * p_.stride + span;
  int64_t g = p_.groups;
  const Dt act = precision_ == Precision::kBf16 ? Dt::bf16 : Dt::f32;
  memory::desc src_md({1, p_.in_channels, lin}, act, Tag::nwc);
  memory::desc dst_md({1, p_.out_channels, lc}, Dt::f32, Tag::nwc);
  memory::dims wdims = g == 1 ? memory::dims{p_.out_channels, p_.in_channels, p_.kernel}
                              : memory::dims{g, p_.out_channels / g, p_.in_channels / g, p_.kernel};
  memory::desc w_any(wdims, act, Tag::any);
  memory::desc b_md({p_.out_channels}, Dt::f32, Tag::a);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, w_any, b_md,
                                    dst_md, {p_.stride}, {p_.dilation - 1}, {0}, {0});
  dnnl::post_ops po;
  if (ep.accumulate) po.append_sum(1.f);
  detail::append_post(po, p_.post, p_.alpha);
  if (ep.scale != 1.f) po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, ep.scale, 0.f);
  detail::append_post(po, ep.post2, ep.alpha2);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // bound by run_primitive()
  dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
  auto e = std::make_unique<Entry>();
  e->prim = dnnl::convolution_forward(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  if (impl_->packed && impl_->packed.get_desc() == pd.weights_desc()) {
    e->weights = impl_->packed;
  } else {
    Tag plain = g == 1 ? Tag::oiw : Tag::goiw;
    // A reorder to bf16 rounds to nearest even.
    memory src_w({wdims, Dt::f32, plain}, eng, const_cast<float*>(weight_.data()));
    memory packed(pd.weights_desc(), eng);
    detail::apply_threads();
    dnnl::reorder(src_w, packed).execute(detail::thread_stream(), src_w, packed);
    detail::thread_stream().wait();
    if (!impl_->packed) impl_->packed = packed;
    e->weights = packed;
  }
  Entry* raw = e.get();
  impl_->cache.emplace(key, std::move(e));
  return raw;
}

namespace {

void conv1d_reference(const Conv1dParams& p, const float* w, const float* b, const float* x,
                      int64_t t_in, float* y, int64_t t_out, const ConvEpilogue& ep) {
  int64_t cig = p.in_channels / p.groups, cog = p.out_channels / p.groups;
  for (int64_t t = 0; t < t_out; ++t) {
    float* yr = y + t * p.out_channels;
    for (int64_t o = 0; o < p.out_channels; ++o) {
      int64_t gi = o / cog;
      double acc = b[o];
      for (int64_t k = 0; k < p.kernel; ++k) {
        int64_t ti = t * p.stride + k * p.dilation - p.pad_left;
        if (ti < 0 || ti >= t_in) continue;
        const float* xr = x + ti * p.in_channels + gi * cig;
        const float* wr = w + (o * cig) * p.kernel + k;
        for (int64_t i = 0; i < cig; ++i) acc += static_cast<double>(xr[i]) * wr[i * p.kernel];
      }
      float v = static_cast<float>(acc);
      if (ep.accumulate) v += yr[o];
      if (ep.residual) v += ep.residual[t * p.out_channels + o];
      yr[o] = v;
    }
    const auto co = static_cast<size_t>(p.out_channels);
    detail::apply_post(yr, co, p.post, p.alpha);
    if (ep.scale != 1.f) {
      for (size_t o = 0; o < co; ++o) yr[o] *= ep.scale;
    }
    detail::apply_post(yr, co, ep.post2, ep.alpha2);
  }
}

}  // namespace

void Conv1d::forward(const float* x, int64_t t_in, float* y, bool accumulate) const {
  ConvEpilogue ep;
  ep.accumulate = accumulate;
  forward(x, t_in, y, ep);
}

void Conv1d::forward(const float* x, int64_t t_in, float* y, const ConvEpilogue& ep,
                     int64_t plan_t_in) const {
  int64_t t_out = out_length(t_in);
  if (t_out <= 0) return;
  if (ep.pre != PostOp::kNone && ep.pre != PostOp::kLeakyRelu) {
    fail("Conv1d: input activation must be none or leaky ReLU");
  }
  if (backend_ == Backend::kReference) {
    if (ep.pre != PostOp::kNone) {
      std::vector<float> xa(x, x + t_in * p_.in_channels);
      detail::apply_post(xa.data(), xa.size(), ep.pre, ep.pre_alpha);
      conv1d_reference(p_, weight_.data(), bias_.data(), xa.data(), t_in, y, t_out, ep);
      return;
    }
    conv1d_reference(p_, weight_.data(), bias_.data(), x, t_in, y, t_out, ep);
    return;
  }
  const int64_t plan_t_out = out_length(std::max(t_in, plan_t_in));
  if (impl_->fft && !direct_for(plan_t_out)) {
    impl_->fft->forward(x, t_in, y, t_out, ep, plan_t_out);
    return;
  }
  if (ep.pre != PostOp::kNone) {
    if (!impl_->fft) fail("Conv1d: an input activation needs the DFT path");
    // A DFT layer on a short input runs direct: the activation goes on a copy.
    float* xa =
        detail::thread_scratch(detail::kScratchConvPre, static_cast<size_t>(t_in * p_.in_channels));
    for (int64_t i = 0; i < t_in * p_.in_channels; ++i)
      xa[i] = x[i] < 0.f ? x[i] * ep.pre_alpha : x[i];
    ConvEpilogue rest = ep;
    rest.pre = PostOp::kNone;
    forward(xa, t_in, y, rest, plan_t_in);
    return;
  }
  const int64_t lc = plan_chunk(t_in, plan_t_in);
  Entry* e = entry(lc, primitive_epilogue(ep));
  const int64_t span = p_.dilation * (p_.kernel - 1) + 1;
  const int64_t lin = (lc - 1) * p_.stride + span;
  const int64_t ci = p_.in_channels, co = p_.out_channels;
  const bool bf16 = precision_ == Precision::kBf16;
  for (int64_t c0 = 0; c0 < t_out; c0 += lc) {
    const int64_t n = std::min(lc, t_out - c0);
    const int64_t start = c0 * p_.stride - p_.pad_left;
    const float* src = x + start * ci;
    if (start < 0 || start + lin > t_in) {
      float* buf = detail::thread_scratch(detail::kScratchConvIn, static_cast<size_t>(lin * ci));
      for (int64_t r = 0; r < lin; ++r) {
        int64_t ti = start + r;
        if (ti >= 0 && ti < t_in) {
          std::memcpy(buf + r * ci, x + ti * ci, sizeof(float) * ci);
        } else {
          std::memset(buf + r * ci, 0, sizeof(float) * ci);
        }
      }
      src = buf;
    }
    const void* src_arg = src;
    if (bf16) {
      uint16_t* b = detail::bf16_scratch(3, static_cast<size_t>(lin * ci));
      detail::to_bf16(src, b, static_cast<size_t>(lin * ci));
      src_arg = b;
    }
    float* dst = y + c0 * co;
    const float* res = ep.residual ? ep.residual + c0 * co : nullptr;
    const bool partial = n < lc;
    const auto used = static_cast<size_t>(n * co);
    if (partial)
      dst = detail::thread_scratch(detail::kScratchConvOut, static_cast<size_t>(lc * co));
    if (res && ep.accumulate) {
      if (partial) std::memcpy(dst, y + c0 * co, sizeof(float) * used);
      for (size_t i = 0; i < used; ++i) dst[i] += res[i];
    } else if (res) {
      std::memcpy(dst, res, sizeof(float) * used);
    } else if (partial && ep.accumulate) {
      std::memcpy(dst, y + c0 * co, sizeof(float) * used);
    }
    detail::run_primitive(e->prim, {detail::bound(DNNL_ARG_SRC, e->src_md, src_arg),
                                    detail::fixed(DNNL_ARG_WEIGHTS, e->weights),
                                    detail::fixed(DNNL_ARG_BIAS, impl_->bias),
                                    detail::bound(DNNL_ARG_DST, e->dst_md, dst)});
    if (partial) std::memcpy(y + c0 * co, dst, sizeof(float) * used);
  }
}

void Conv1d::forward(const Tensor& x, Tensor& y, bool accumulate) const {
  if (x.ndim() != 2 || x.dim(1) != p_.in_channels) {
    fail("Conv1d: input shape ", shape_str(x.shape()), ", expected [T, ", p_.in_channels, "]");
  }
  int64_t t_out = out_length(x.dim(0));
  Shape ys{t_out, p_.out_channels};
  if (accumulate) {
    if (y.shape() != ys)
      fail("Conv1d: accumulate target ", shape_str(y.shape()), " != ", shape_str(ys));
  } else {
    y.resize(ys);
  }
  forward(x.data(), x.dim(0), y.data(), accumulate);
}

}  // namespace rvc::nn
