#include "dnnl_util.h"

#include <cmath>

namespace rvc::nn::detail {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

void append_post(dnnl::post_ops& po, PostOp post, float alpha) {
  switch (post) {
    case PostOp::kNone:
      break;
    case PostOp::kLeakyRelu:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f);
      break;
    case PostOp::kRelu:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      break;
    case PostOp::kTanh:
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_tanh, 0.f, 0.f);
      break;
  }
}

dnnl::primitive_attr make_attr(bool accumulate, PostOp post, float alpha, SumOrder order) {
  dnnl::post_ops po;
  if (accumulate && order == SumOrder::kBeforeActivation) po.append_sum(1.f);
  append_post(po, post, alpha);
  if (accumulate && order == SumOrder::kAfterActivation) po.append_sum(1.f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  // User scratchpad: oneDNN's library-managed (global, per-thread) scratchpad is sized on the
  // thread that creates a primitive, so running it on another thread (a stream's worker after a
  // warm-up on the main thread) read past it. run_primitive() binds a scratchpad of the calling
  // thread instead.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::memory PackedWeights::find(const dnnl::memory::desc& want) const {
  for (const dnnl::memory& m : kept_) {
    if (m.get_desc() == want) return m;
  }
  return {};
}

dnnl::memory PackedWeights::pack(dnnl::memory src, const dnnl::memory::desc& want) {
  dnnl::memory packed(want, cpu_engine());
  apply_threads();
  dnnl::reorder(src, packed).execute(thread_stream(), src, packed);
  thread_stream().wait();
  if (kept_.size() < kMaxLayouts) kept_.push_back(packed);
  return packed;
}

float* thread_scratch(ScratchSlot slot, size_t n_floats) {
  thread_local AlignedVector<float> bufs[kNumScratch];
  auto& b = bufs[slot];
  if (b.size() < n_floats) b.resize(n_floats);
  return b.data();
}

void apply_post(float* x, size_t n, PostOp post, float alpha) {
  switch (post) {
    case PostOp::kNone:
      return;
    case PostOp::kLeakyRelu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] < 0.f ? x[i] * alpha : x[i];
      return;
    case PostOp::kRelu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] < 0.f ? 0.f : x[i];
      return;
    case PostOp::kTanh:
      for (size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
  }
}

}  // namespace rvc::nn::detail
