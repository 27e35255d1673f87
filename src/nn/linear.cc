#include "rvc/nn/linear.h"

#include <cstring>
#include <map>
#include <mutex>

#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "linear_half.h"
#include "rvc/core/error.h"

namespace rvc::nn {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
          Backend backend) {
  if (m <= 0 || n <= 0) return;
  if (backend == Backend::kFast) {
    detail::apply_threads();
    dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda,
                                  b, ldb, beta, c, ldc);
    if (st != dnnl_success) fail("gemm: dnnl_sgemm failed (status ", static_cast<int>(st), ")");
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += static_cast<double>(av) * bv;
      }
      float& cv = c[i * ldc + j];
      cv = static_cast<float>(alpha * acc) + (beta == 0.f ? 0.f : beta * cv);
    }
  }
}

struct Linear::Impl {
  struct Entry {
    dnnl::matmul prim;
    memory::desc src_md, dst_md;
    memory weights;
  };
  std::mutex mu;
  // Keyed by (threads, (x_stride, rows * 2 + accumulate)); dense rows have x_stride == in.
  detail::PrimitiveCache<std::pair<int64_t, int64_t>, Entry> cache;
  memory bias;
  detail::PackedWeights packed;
  // The weights in half precision when each is exactly a half (then Linear keeps no f32 copy:
  // oneDNN's packing widens them back); rows <= HalfPanels::kMaxRows run on it.
  detail::HalfPanels half;

  std::shared_ptr<Entry> entry(const Linear& l, int64_t rows, bool accumulate, int threads,
                               int64_t x_stride);
};

// The entry for (rows, accumulate) at `threads` (the caller's detail::use_threads()), created
// on first use.
std::shared_ptr<Linear::Impl::Entry> Linear::Impl::entry(const Linear& l, int64_t rows,
                                                         bool accumulate, int threads,
                                                         int64_t x_stride) {
  const auto key = std::make_pair(x_stride, rows * 2 + (accumulate ? 1 : 0));
  std::lock_guard<std::mutex> lock(mu);
  if (auto e = cache.find(threads, key)) return e;
  const auto& eng = detail::cpu_engine();
  const Dt dt = l.precision_ == Precision::kBf16 ? Dt::bf16 : Dt::f32;
  memory::desc src_md({rows, l.in_}, dt, memory::dims{x_stride, 1});
  memory::desc dst_md({rows, l.out_}, Dt::f32, Tag::ab);
  memory::desc w_any({l.in_, l.out_}, dt, Tag::any);
  memory::desc b_md({1, l.out_}, Dt::f32, Tag::ab);
  dnnl::matmul::desc d(src_md, w_any, b_md, dst_md);
  dnnl::matmul::primitive_desc pd(d, detail::make_attr(accumulate, l.post_, l.alpha_), eng);
  auto e = std::make_shared<Entry>();
  e->prim = dnnl::matmul(pd);
  e->src_md = src_md;
  e->dst_md = dst_md;
  e->weights = packed.find(pd.weights_desc());
  if (!e->weights) {
    // W^T as a [in][out] matrix is W [out][in] read with tag ba.
    std::vector<float> widened;
    const float* w = l.weight_.data();
    if (!half.empty()) {
      widened.resize(static_cast<size_t>(l.out_ * l.in_));
      half.unpack(widened.data());
      w = widened.data();
    }
    memory src_w({{l.in_, l.out_}, Dt::f32, Tag::ba}, eng, const_cast<float*>(w));
    e->weights = packed.pack(src_w, pd.weights_desc());
  }
  cache.insert(threads, key, e);
  return e;
}

Linear::Linear() = default;
Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

Linear::Linear(const Tensor& weight, const Tensor* bias, Backend backend, PostOp post, float alpha)
    : backend_(backend), post_(post), alpha_(alpha) {
  bool ok = weight.ndim() == 2 || (weight.ndim() == 3 && weight.dim(2) == 1);
  if (!ok) fail("Linear: weight shape ", shape_str(weight.shape()), ", expected [out, in]");
  out_ = weight.dim(0);
  in_ = weight.dim(1);
  if (out_ <= 0 || in_ <= 0) fail("Linear: empty weight ", shape_str(weight.shape()));
  bias_ = Tensor({out_});
  if (bias) {
    if (bias->shape() != Shape{out_}) {
      fail("Linear: bias shape ", shape_str(bias->shape()), ", expected [", out_, "]");
    }
    bias_ = *bias;
  }
  if (backend_ == Backend::kFast) {
    precision_ = effective_precision(default_precision());
    impl_ = std::make_unique<Impl>();
    impl_->bias = memory({{1, out_}, Dt::f32, Tag::ab}, detail::cpu_engine());
    std::memcpy(impl_->bias.get_data_handle(), bias_.data(), sizeof(float) * out_);
    if (precision_ == Precision::kF32) {
      impl_->half = detail::HalfPanels::pack(weight.data(), out_, in_);
    }
  }
  if (!impl_ || impl_->half.empty()) weight_ = Tensor({out_, in_}, weight.data());
}

bool Linear::half_weights() const { return impl_ && !impl_->half.empty(); }

void Linear::prepare(int64_t rows, bool accumulate) const {
  if (backend_ != Backend::kFast || rows <= 0) return;
  if (half_weights() && rows <= detail::HalfPanels::kMaxRows) {
    detail::thread_scratch(detail::kScratchHalfRows, static_cast<size_t>(rows * in_));
    return;
  }
  impl_->entry(*this, rows, accumulate, detail::use_threads(), in_);
}

void Linear::forward(const float* x, int64_t rows, float* y, bool accumulate) const {
  forward_strided(x, rows, in_, y, accumulate);
}

void Linear::forward_strided(const float* x, int64_t rows, int64_t x_stride, float* y,
                             bool accumulate) const {
  if (rows <= 0) return;
  if (x_stride < in_) fail("Linear: row stride ", x_stride, " is below the row length ", in_);
  if (backend_ == Backend::kReference) {
    for (int64_t t = 0; t < rows; ++t) {
      const float* xr = x + t * x_stride;
      float* yr = y + t * out_;
      for (int64_t o = 0; o < out_; ++o) {
        const float* wr = weight_.data() + o * in_;
        double acc = bias_[o];
        for (int64_t i = 0; i < in_; ++i) acc += static_cast<double>(xr[i]) * wr[i];
        yr[o] = static_cast<float>(acc) + (accumulate ? yr[o] : 0.f);
      }
      detail::apply_post(yr, static_cast<size_t>(out_), post_, alpha_);
    }
    return;
  }
  if (rows <= detail::HalfPanels::kMaxRows && half_weights()) {
    impl_->half.gemm(x, rows, x_stride, bias_.data(), y, accumulate);
    detail::apply_post(y, static_cast<size_t>(rows * out_), post_, alpha_);
    return;
  }
  const auto e = impl_->entry(*this, rows, accumulate, detail::use_threads(), x_stride);
  const void* src = x;
  if (precision_ == Precision::kBf16) {
    // The whole span the rows cover, in bf16 with the same strides (rows * in when dense).
    const auto span = static_cast<size_t>((rows - 1) * x_stride + in_);
    uint16_t* xb = detail::bf16_scratch(0, span);
    detail::to_bf16(x, xb, span);
    src = xb;
  }
  detail::run_primitive(
      e->prim,
      {detail::bound(DNNL_ARG_SRC, e->src_md, src), detail::fixed(DNNL_ARG_WEIGHTS, e->weights),
       detail::fixed(DNNL_ARG_BIAS, impl_->bias), detail::bound(DNNL_ARG_DST, e->dst_md, y)});
}

void Linear::forward(const Tensor& x, Tensor& y, bool accumulate) const {
  if (x.ndim() != 2 || x.dim(1) != in_) {
    fail("Linear: input shape ", shape_str(x.shape()), ", expected [rows, ", in_, "]");
  }
  Shape ys{x.dim(0), out_};
  if (accumulate) {
    if (y.shape() != ys) fail("Linear: accumulate target ", shape_str(y.shape()));
  } else {
    y.resize(ys);
  }
  forward(x.data(), x.dim(0), y.data(), accumulate);
}

}  // namespace rvc::nn
