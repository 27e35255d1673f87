#include "rvc/nn/gru.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "dnnl_util.h"
#include "fast_math.h"
#include "rvc/core/error.h"

namespace rvc::nn {

namespace {

const Tensor& need(const TensorMap& w, const std::string& key, const Shape& shape) {
  const auto it = w.find(key);
  if (it == w.end()) fail("GRU: missing tensor '", key, "'");
  if (it->second.shape() != shape) {
    fail("GRU: tensor '", key, "' has shape ", shape_str(it->second.shape()), ", expected ",
         shape_str(shape));
  }
  return it->second;
}

// One step's gates for hs units (ref: torch.nn.GRU): r = sigmoid(gx_r + hh_r), z = sigmoid(gx_z
// + hh_z), n = tanh(gx_n + r * hh_n), h = (1 - z) n + z h, in one vectorised pass. libm's
// scalar exp and tanh were most of a 10 s RMVPE call's GRU time (768 calls per step).
__attribute__((target_clones("avx512f", "avx2", "default"))) void gru_gates(const float* gx,
                                                                            const float* hh,
                                                                            float* h, int64_t hs) {
  for (int64_t k = 0; k < hs; ++k) {
    const float r = detail::sigmoid_fast(gx[k] + hh[k]);
    const float z = detail::sigmoid_fast(gx[hs + k] + hh[hs + k]);
    const float n = detail::tanh_fast(gx[2 * hs + k] + r * hh[2 * hs + k]);
    h[k] = (1.0f - z) * n + z * h[k];
  }
}

// acc[0..n) += sum_k wt[k][0..n) * h[k]: the hidden-hidden product with W_hh transposed, so
// the inner loop runs along the 3H outputs without horizontal reductions. Blocks of outputs
// stay in registers while k streams through the weights (AVX-512 / AVX2 / plain, picked at run
// time; -O2 builds do not vectorise the plain loop).
__attribute__((target("avx512f"))) void gemv_t_avx512(const float* wt, const float* h,
                                                      int64_t k_count, int64_t n, float* acc) {
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    __m512 a0 = _mm512_loadu_ps(acc + j), a1 = _mm512_loadu_ps(acc + j + 16);
    __m512 a2 = _mm512_loadu_ps(acc + j + 32), a3 = _mm512_loadu_ps(acc + j + 48);
    for (int64_t k = 0; k < k_count; ++k) {
      const __m512 hk = _mm512_set1_ps(h[k]);
      const float* r = wt + k * n + j;
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r), hk, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r + 16), hk, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r + 32), hk, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r + 48), hk, a3);
    }
    _mm512_storeu_ps(acc + j, a0);
    _mm512_storeu_ps(acc + j + 16, a1);
    _mm512_storeu_ps(acc + j + 32, a2);
    _mm512_storeu_ps(acc + j + 48, a3);
  }
  for (; j + 16 <= n; j += 16) {
    __m512 a0 = _mm512_loadu_ps(acc + j);
    for (int64_t k = 0; k < k_count; ++k) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wt + k * n + j), _mm512_set1_ps(h[k]), a0);
    }
    _mm512_storeu_ps(acc + j, a0);
  }
  for (; j < n; ++j) {
    float a = acc[j];
    for (int64_t k = 0; k < k_count; ++k) a += wt[k * n + j] * h[k];
    acc[j] = a;
  }
}

__attribute__((target("avx2,fma"))) void gemv_t_avx2(const float* wt, const float* h,
                                                     int64_t k_count, int64_t n, float* acc) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    __m256 a0 = _mm256_loadu_ps(acc + j), a1 = _mm256_loadu_ps(acc + j + 8);
    __m256 a2 = _mm256_loadu_ps(acc + j + 16), a3 = _mm256_loadu_ps(acc + j + 24);
    for (int64_t k = 0; k < k_count; ++k) {
      const __m256 hk = _mm256_set1_ps(h[k]);
      const float* r = wt + k * n + j;
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r), hk, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + 8), hk, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r + 16), hk, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r + 24), hk, a3);
    }
    _mm256_storeu_ps(acc + j, a0);
    _mm256_storeu_ps(acc + j + 8, a1);
    _mm256_storeu_ps(acc + j + 16, a2);
    _mm256_storeu_ps(acc + j + 24, a3);
  }
  for (; j < n; ++j) {
    float a = acc[j];
    for (int64_t k = 0; k < k_count; ++k) a += wt[k * n + j] * h[k];
    acc[j] = a;
  }
}

void gemv_t_plain(const float* wt, const float* h, int64_t k_count, int64_t n, float* acc) {
  for (int64_t k = 0; k < k_count; ++k) {
    const float hk = h[k];
    const float* row = wt + k * n;
    for (int64_t j = 0; j < n; ++j) acc[j] += row[j] * hk;
  }
}

using GemvFn = void (*)(const float*, const float*, int64_t, int64_t, float*);
GemvFn pick_gemv() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return gemv_t_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemv_t_avx2;
  return gemv_t_plain;
}

void gemv_t(const float* wt, const float* h, int64_t k_count, int64_t n, float* acc) {
  static const GemvFn fn = pick_gemv();
  fn(wt, h, k_count, n, acc);
}

}  // namespace

Gru::Gru() = default;
Gru::~Gru() = default;
Gru::Gru(Gru&&) noexcept = default;
Gru& Gru::operator=(Gru&&) noexcept = default;

Gru::Gru(const TensorMap& w, const std::string& prefix, int64_t num_layers, bool bidirectional,
         Backend backend)
    : dirs_(bidirectional ? 2 : 1), backend_(backend) {
  if (num_layers < 1) fail("GRU '", prefix, "': needs at least one layer, got ", num_layers);
  const auto it = w.find(prefix + "weight_ih_l0");
  if (it == w.end()) fail("GRU: missing tensor '", prefix, "weight_ih_l0'");
  if (it->second.ndim() != 2 || it->second.dim(0) % 3 != 0 || it->second.dim(0) < 3) {
    fail("GRU: tensor '", prefix, "weight_ih_l0' has shape ", shape_str(it->second.shape()),
         ", expected [3*hidden, input]");
  }
  hidden_ = it->second.dim(0) / 3;
  input_ = it->second.dim(1);
  const int64_t g = 3 * hidden_;
  for (int64_t l = 0; l < num_layers; ++l) {
    Layer layer;
    layer.in = l == 0 ? input_ : dirs_ * hidden_;
    for (int64_t d = 0; d < dirs_; ++d) {
      const std::string s = std::to_string(l) + (d == 1 ? "_reverse" : "");
      Dir dir;
      dir.w_ih = need(w, prefix + "weight_ih_l" + s, {g, layer.in});
      dir.w_hh = need(w, prefix + "weight_hh_l" + s, {g, hidden_});
      dir.b_ih = need(w, prefix + "bias_ih_l" + s, {g});
      dir.b_hh = need(w, prefix + "bias_hh_l" + s, {g});
      if (backend_ == Backend::kFast) {
        dir.w_hh_t = Tensor({hidden_, g});
        for (int64_t j = 0; j < g; ++j) {
          for (int64_t k = 0; k < hidden_; ++k) dir.w_hh_t[k * g + j] = dir.w_hh[j * hidden_ + k];
        }
      }
      layer.dirs.push_back(std::move(dir));
    }
    if (backend_ == Backend::kFast) {
      Tensor wcat({dirs_ * g, layer.in}), bcat({dirs_ * g});
      for (int64_t d = 0; d < dirs_; ++d) {
        const Dir& dir = layer.dirs[static_cast<size_t>(d)];
        std::copy(dir.w_ih.data(), dir.w_ih.data() + g * layer.in, wcat.data() + d * g * layer.in);
        for (int64_t j = 0; j < g; ++j) {
          // b_hr and b_hz add linearly; b_hn sits inside r * (...), so it stays in the loop.
          bcat[d * g + j] = dir.b_ih[j] + (j < 2 * hidden_ ? dir.b_hh[j] : 0.f);
        }
      }
      layer.proj = Linear(wcat, &bcat, Backend::kFast);
    }
    layers_.push_back(std::move(layer));
  }
}

void Gru::prepare(int64_t t) const {
  if (backend_ != Backend::kFast || t <= 0) return;
  for (const Layer& l : layers_) l.proj.prepare(t);
}

void Gru::run_reference(const Layer& l, const float* x, int64_t t, float* y) const {
  const int64_t hs = hidden_, g = 3 * hs, ys = dirs_ * hs;
  std::vector<double> gi(static_cast<size_t>(g)), gh(static_cast<size_t>(g));
  std::vector<float> h(static_cast<size_t>(hs));
  for (int64_t d = 0; d < dirs_; ++d) {
    const Dir& dir = l.dirs[static_cast<size_t>(d)];
    std::fill(h.begin(), h.end(), 0.f);
    for (int64_t step = 0; step < t; ++step) {
      const int64_t s = d == 1 ? t - 1 - step : step;
      const float* xs = x + s * l.in;
      for (int64_t j = 0; j < g; ++j) {
        double a = dir.b_ih[j], b = dir.b_hh[j];
        for (int64_t k = 0; k < l.in; ++k) a += static_cast<double>(dir.w_ih[j * l.in + k]) * xs[k];
        for (int64_t k = 0; k < hs; ++k) b += static_cast<double>(dir.w_hh[j * hs + k]) * h[k];
        gi[static_cast<size_t>(j)] = a;
        gh[static_cast<size_t>(j)] = b;
      }
      for (int64_t k = 0; k < hs; ++k) {
        const double r = 1.0 / (1.0 + std::exp(-(gi[k] + gh[k])));
        const double z = 1.0 / (1.0 + std::exp(-(gi[hs + k] + gh[hs + k])));
        const double n = std::tanh(gi[2 * hs + k] + r * gh[2 * hs + k]);
        h[k] = static_cast<float>((1.0 - z) * n + z * h[k]);
      }
      std::copy(h.begin(), h.begin() + hs, y + s * ys + d * hs);
    }
  }
}

void Gru::run_fast(const Layer& l, const float* x, int64_t t, float* y) const {
  const int64_t hs = hidden_, g = 3 * hs, gd = dirs_ * g, ys = dirs_ * hs;
  // One thread-local buffer of the calling thread, grown on first use for a length and kept:
  // the projections [t][gd], then per direction its state h [hs] and gate sums hh [g] (a
  // 64-byte multiple apart). The reverse direction may run on an OpenMP worker, and which OS
  // thread that is is up to the runtime, so it must not need scratch of its own.
  const size_t per_dir = static_cast<size_t>((hs + g + 15) / 16 * 16);
  thread_local std::vector<float> xi;
  const size_t need = static_cast<size_t>(t * gd) + static_cast<size_t>(dirs_) * per_dir;
  if (xi.size() < need) xi.resize(need);
  l.proj.forward(x, t, xi.data());
  const float* xin = xi.data();
  float* state = xi.data() + t * gd;
  auto recur = [&](int64_t d) {
    const Dir& dir = l.dirs[static_cast<size_t>(d)];
    float* h = state + static_cast<size_t>(d) * per_dir;
    float* hh = h + hs;
    std::fill(h, h + hs, 0.f);
    const float* bn = dir.b_hh.data() + 2 * hs;
    for (int64_t step = 0; step < t; ++step) {
      const int64_t s = d == 1 ? t - 1 - step : step;
      std::fill(hh, hh + 2 * hs, 0.f);
      std::copy(bn, bn + hs, hh + 2 * hs);
      gemv_t(dir.w_hh_t.data(), h, hs, g, hh);
      gru_gates(xin + s * gd + d * g, hh, h, hs);
      std::copy(h, h + hs, y + s * ys + d * hs);
    }
  };
  if (dirs_ == 2 && num_threads() >= 2 && !omp_in_parallel()) {
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int d = 0; d < 2; ++d) recur(d);
  } else {
    for (int64_t d = 0; d < dirs_; ++d) recur(d);
  }
}

void Gru::forward(const float* x, int64_t t, float* y) const {
  if (t <= 0) return;
  // Inter-layer outputs ping-pong between two thread-local buffers (grown once, then kept).
  thread_local std::vector<float> bufs[2];
  const float* cur = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const bool last = i + 1 == layers_.size();
    float* dst = y;
    if (!last) {
      auto& out = bufs[i % 2];
      if (out.size() < static_cast<size_t>(t * dirs_ * hidden_)) {
        out.resize(static_cast<size_t>(t * dirs_ * hidden_));
      }
      dst = out.data();
    }
    if (backend_ == Backend::kFast) {
      run_fast(layers_[i], cur, t, dst);
    } else {
      run_reference(layers_[i], cur, t, dst);
    }
    if (!last) cur = dst;
  }
}

}  // namespace rvc::nn
