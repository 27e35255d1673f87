#include "rvc/nn/grouped_conv1d.h"

#include <cstring>
#include <mutex>

#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "rvc/core/error.h"

namespace rvc::nn {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

struct GroupedConv1d::Impl {
  struct Entry {
    dnnl::convolution_forward prim;
    memory::desc src_md, dst_md;
    memory weights;
  };
  std::mutex mu;
  // Keyed by (threads, input length): at most kMaxCached lengths per thread count.
  detail::PrimitiveCache<int64_t, Entry> cache{kMaxCached};
  memory bias;
  detail::PackedWeights packed;

  std::shared_ptr<Entry> entry(const GroupedConv1d& c, int64_t t, int threads);
};

GroupedConv1d::GroupedConv1d() = default;
GroupedConv1d::~GroupedConv1d() = default;
GroupedConv1d::GroupedConv1d(GroupedConv1d&&) noexcept = default;
GroupedConv1d& GroupedConv1d::operator=(GroupedConv1d&&) noexcept = default;

GroupedConv1d::GroupedConv1d(const Conv1dParams& p, const Tensor& weight, const Tensor* bias,
                             Backend backend)
    : p_(p), backend_(backend) {
  if (p.stride != 1 || p.dilation != 1) fail("GroupedConv1d: stride and dilation must be 1");
  if (backend_ == Backend::kReference) {
    ref_ = Conv1d(p, weight, bias, Backend::kReference);
    return;
  }
  const Shape ws{p.out_channels, p.in_channels / p.groups, p.kernel};
  if (p.groups <= 0 || p.in_channels % p.groups || p.out_channels % p.groups ||
      weight.shape() != ws) {
    fail("GroupedConv1d: weight shape ", shape_str(weight.shape()), ", expected ", shape_str(ws));
  }
  weight_ = weight;
  bias_ = Tensor({p.out_channels});
  if (bias) bias_ = *bias;
  if (backend_ == Backend::kFast) {
    precision_ = effective_precision(default_precision());
    impl_ = std::make_unique<Impl>();
    impl_->bias = memory({{p.out_channels}, Dt::f32, Tag::a}, detail::cpu_engine());
    std::memcpy(impl_->bias.get_data_handle(), bias_.data(), sizeof(float) * p.out_channels);
  }
}

void GroupedConv1d::prepare(int64_t t) const {
  if (backend_ != Backend::kFast || out_length(t) <= 0) return;
  impl_->entry(*this, t, detail::use_threads());
}

// The entry for input length t at `threads` (the caller's detail::use_threads()), created on
// first use.
std::shared_ptr<GroupedConv1d::Impl::Entry> GroupedConv1d::Impl::entry(const GroupedConv1d& c,
                                                                       int64_t t, int threads) {
  std::lock_guard<std::mutex> lock(mu);
  if (auto found = cache.find(threads, t)) return found;
  const auto& eng = detail::cpu_engine();
  const int64_t g = c.p_.groups;
  const Dt dt = c.precision_ == Precision::kBf16 ? Dt::bf16 : Dt::f32;
  memory::desc src_md({1, c.p_.in_channels, t}, dt, Tag::nwc);
  memory::desc dst_md({1, c.p_.out_channels, c.out_length(t)}, Dt::f32, Tag::nwc);
  const memory::dims wdims =
      g == 1 ? memory::dims{c.p_.out_channels, c.p_.in_channels, c.p_.kernel}
             : memory::dims{g, c.p_.out_channels / g, c.p_.in_channels / g, c.p_.kernel};
  memory::desc w_any(wdims, dt, Tag::any);
  memory::desc b_md({c.p_.out_channels}, Dt::f32, Tag::a);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, w_any, b_md,
                                    dst_md, {1}, {0}, {c.p_.pad_left}, {c.p_.pad_right});
  dnnl::convolution_forward::primitive_desc pd(d, detail::make_attr(false, c.p_.post, c.p_.alpha),
                                               eng);
  auto e = std::make_shared<Entry>();
  e->prim = dnnl::convolution_forward(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  e->weights = packed.find(pd.weights_desc());
  if (!e->weights) {
    memory src_w({wdims, Dt::f32, g == 1 ? Tag::oiw : Tag::goiw}, eng,
                 const_cast<float*>(c.weight_.data()));
    e->weights = packed.pack(src_w, pd.weights_desc());
  }
  cache.insert(threads, t, e);
  return e;
}

void GroupedConv1d::forward(const float* x, int64_t t, float* y) const {
  if (out_length(t) <= 0) return;
  if (backend_ == Backend::kReference) {
    ref_.forward(x, t, y);
    return;
  }
  const auto e = impl_->entry(*this, t, detail::use_threads());
  const void* src = x;
  if (precision_ == Precision::kBf16) {
    const size_t n = static_cast<size_t>(t * p_.in_channels);
    uint16_t* xb = detail::bf16_scratch(2, n);
    detail::to_bf16(x, xb, n);
    src = xb;
  }
  detail::run_primitive(
      e->prim,
      {detail::bound(DNNL_ARG_SRC, e->src_md, src), detail::fixed(DNNL_ARG_WEIGHTS, e->weights),
       detail::fixed(DNNL_ARG_BIAS, impl_->bias), detail::bound(DNNL_ARG_DST, e->dst_md, y)});
}

}  // namespace rvc::nn
