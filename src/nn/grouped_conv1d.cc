#include "rvc/nn/grouped_conv1d.h"

#include <cstring>
#include <map>
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
  std::map<int64_t, std::shared_ptr<Entry>> cache;
  memory bias, packed;
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
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->cache.count(t)) return;
  if (impl_->cache.size() >= kMaxCached) impl_->cache.clear();  // callers hold shared_ptrs
  const auto& eng = detail::cpu_engine();
  const int64_t g = p_.groups;
  const Dt dt = precision_ == Precision::kBf16 ? Dt::bf16 : Dt::f32;
  memory::desc src_md({1, p_.in_channels, t}, dt, Tag::nwc);
  memory::desc dst_md({1, p_.out_channels, out_length(t)}, Dt::f32, Tag::nwc);
  const memory::dims wdims =
      g == 1 ? memory::dims{p_.out_channels, p_.in_channels, p_.kernel}
             : memory::dims{g, p_.out_channels / g, p_.in_channels / g, p_.kernel};
  memory::desc w_any(wdims, dt, Tag::any);
  memory::desc b_md({p_.out_channels}, Dt::f32, Tag::a);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, w_any, b_md,
                                    dst_md, {1}, {0}, {p_.pad_left}, {p_.pad_right});
  dnnl::convolution_forward::primitive_desc pd(d, detail::make_attr(false, p_.post, p_.alpha), eng);
  auto e = std::make_shared<Impl::Entry>();
  e->prim = dnnl::convolution_forward(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  if (impl_->packed && impl_->packed.get_desc() == pd.weights_desc()) {
    e->weights = impl_->packed;
  } else {
    memory src_w({wdims, Dt::f32, g == 1 ? Tag::oiw : Tag::goiw}, eng,
                 const_cast<float*>(weight_.data()));
    memory pk(pd.weights_desc(), eng);
    detail::apply_threads();
    dnnl::reorder(src_w, pk).execute(detail::thread_stream(), src_w, pk);
    detail::thread_stream().wait();
    if (!impl_->packed) impl_->packed = pk;
    e->weights = pk;
  }
  impl_->cache.emplace(t, std::move(e));
}

void GroupedConv1d::forward(const float* x, int64_t t, float* y) const {
  if (out_length(t) <= 0) return;
  if (backend_ == Backend::kReference) {
    ref_.forward(x, t, y);
    return;
  }
  std::shared_ptr<Impl::Entry> e;
  while (!e) {  // another thread may evict between prepare() and the look-up
    prepare(t);
    std::lock_guard<std::mutex> lock(impl_->mu);
    const auto it = impl_->cache.find(t);
    if (it != impl_->cache.end()) e = it->second;
  }
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
