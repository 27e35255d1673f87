#include "linear_half.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "dnnl_util.h"
#include "rvc/core/error.h"
#include "rvc/nn/assist.h"
#include "rvc/nn/backend.h"

namespace rvc::nn::detail {

namespace {

constexpr int kMr = 12;  // rows per register tile: 12 x 2 accumulators + 2 weights + 1 input

// Row-major w [out][in] -> panels, checking that each weight survives f32 -> half -> f32 bit for
// bit. False (dst partly written) at the first weight that does not.
__attribute__((target("avx512f,f16c"))) bool pack_avx512(const float* w, int64_t out, int64_t in,
                                                         uint16_t* dst) {
  alignas(32) uint16_t h[16];
  for (int64_t o = 0; o < out; ++o) {
    uint16_t* col = dst + (o / HalfPanels::kCols) * in * HalfPanels::kCols + o % HalfPanels::kCols;
    const float* row = w + o * in;
    for (int64_t i = 0; i < in; i += 16) {
      const int64_t n = std::min<int64_t>(16, in - i);
      const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(m, row + i);
      const __m256i hv =
          _mm512_maskz_cvtps_ph(0xffff, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      const __m512 back = _mm512_maskz_cvtph_ps(0xffff, hv);
      if (_mm512_mask_cmpneq_epi32_mask(m, _mm512_castps_si512(v), _mm512_castps_si512(back))) {
        return false;
      }
      _mm256_store_si256(reinterpret_cast<__m256i*>(h), hv);
      for (int64_t j = 0; j < n; ++j) col[(i + j) * HalfPanels::kCols] = h[j];
    }
  }
  return true;
}

__attribute__((target("avx512f,f16c"))) void unpack_avx512(const uint16_t* src, int64_t out,
                                                           int64_t in, float* w) {
  for (int64_t o = 0; o < out; ++o) {
    const uint16_t* col = src + (o / HalfPanels::kCols) * in * HalfPanels::kCols;
    for (int64_t i = 0; i < in; ++i) {
      w[o * in + i] = _cvtsh_ss(col[i * HalfPanels::kCols + o % HalfPanels::kCols]);
    }
  }
}

// One MR-row tile of one panel: xp holds the tile's rows interleaved ([k][MR]), b the panel
// ([k][32] halves). Meanwhile prefetches pf_lines cache lines of the next panel from pf, one per
// k, so the next panel's stream from memory overlaps this panel's arithmetic.
template <int MR>
__attribute__((target("avx512f"), always_inline)) inline void tile(
    const float* xp, const uint16_t* b, int64_t k_len, float* y, int64_t ldy, const float* bias,
    bool accumulate, __mmask16 m0, __mmask16 m1, const uint16_t* pf, int64_t pf_lines) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = _mm512_setzero_ps();
    acc[r][1] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < k_len; ++k) {
    if (k < pf_lines) {
      _mm_prefetch(reinterpret_cast<const char*>(pf + k * HalfPanels::kCols), _MM_HINT_T0);
    }
    const __m512 b0 = _mm512_maskz_cvtph_ps(
        0xffff, _mm256_load_si256(reinterpret_cast<const __m256i*>(b + k * HalfPanels::kCols)));
    const __m512 b1 = _mm512_maskz_cvtph_ps(
        0xffff,
        _mm256_load_si256(reinterpret_cast<const __m256i*>(b + k * HalfPanels::kCols + 16)));
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 xv = _mm512_set1_ps(xp[k * MR + r]);
      acc[r][0] = _mm512_fmadd_ps(xv, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(xv, b1, acc[r][1]);
    }
  }
  const __m512 bias0 = _mm512_maskz_loadu_ps(m0, bias),
               bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  for (int r = 0; r < MR; ++r) {
    float* yr = y + r * ldy;
    __m512 v0 = _mm512_add_ps(acc[r][0], bias0), v1 = _mm512_add_ps(acc[r][1], bias1);
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, yr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, yr + 16));
    }
    _mm512_mask_storeu_ps(yr, m0, v0);
    _mm512_mask_storeu_ps(yr + 16, m1, v1);
  }
}

struct GemmArgs {
  const float* x;
  int64_t rows, x_stride, in, out, panels, tiles;
  const uint16_t* w;
  const float* bias;
  float* y;
  bool accumulate;
  float* xp;  // rows * in, shared by the team
};

inline int64_t tile_row(const GemmArgs& a, int64_t t) { return t * a.rows / a.tiles; }

// Interleaves this part's share of the row tiles into xp.
__attribute__((target("avx512f"))) void interleave_part(const GemmArgs& a, int id, int parts) {
  const int64_t in = a.in;
  for (int64_t t = id; t < a.tiles; t += parts) {
    const int64_t r0 = tile_row(a, t), mr = tile_row(a, t + 1) - r0;
    float* d = a.xp + r0 * in;
    for (int64_t r = 0; r < mr; ++r) {
      const float* src = a.x + (r0 + r) * a.x_stride;
      for (int64_t k = 0; k < in; ++k) d[k * mr + r] = src[k];
    }
  }
}

// Output panels [p0, p1) from the interleaved rows.
__attribute__((target("avx512f"))) void panel_range(const GemmArgs& a, int64_t p0, int64_t p1) {
  const int64_t in = a.in;
  const int64_t per = (in + a.tiles - 1) / a.tiles;  // next-panel lines each tile prefetches
  for (int64_t p = p0; p < p1; ++p) {
    const uint16_t* b = a.w + p * in * HalfPanels::kCols;
    const int64_t c0 = p * HalfPanels::kCols, cols = std::min(HalfPanels::kCols, a.out - c0);
    const auto m0 = static_cast<__mmask16>(cols >= 16 ? 0xffffu : (1u << cols) - 1u);
    const auto m1 = static_cast<__mmask16>(cols >= 32  ? 0xffffu
                                           : cols > 16 ? (1u << (cols - 16)) - 1u
                                                       : 0u);
    for (int64_t t = 0; t < a.tiles; ++t) {
      const int64_t r0 = tile_row(a, t), mr = tile_row(a, t + 1) - r0;
      const uint16_t* pf = nullptr;
      int64_t pf_lines = 0;
      if (p + 1 < p1) {
        pf = b + in * HalfPanels::kCols + t * per * HalfPanels::kCols;
        pf_lines = std::max<int64_t>(0, std::min(per, in - t * per));
      }
      const float* xp = a.xp + r0 * in;
      float* y = a.y + r0 * a.out + c0;
      const float* bias = a.bias + c0;
      switch (mr) {
#define RVC_HALF_TILE(n)                                                    \
  case n:                                                                   \
    tile<n>(xp, b, in, y, a.out, bias, a.accumulate, m0, m1, pf, pf_lines); \
    break;
        RVC_HALF_TILE(1)
        RVC_HALF_TILE(2)
        RVC_HALF_TILE(3)
        RVC_HALF_TILE(4)
        RVC_HALF_TILE(5)
        RVC_HALF_TILE(6)
        RVC_HALF_TILE(7)
        RVC_HALF_TILE(8)
        RVC_HALF_TILE(9)
        RVC_HALF_TILE(10)
        RVC_HALF_TILE(11)
        RVC_HALF_TILE(12)
#undef RVC_HALF_TILE
        default:
          break;  // unreachable: tiles hold 1..kMr rows
      }
    }
  }
}

// One thread's part of the whole product: its share of the interleaving, a barrier (the team's),
// then its share of the panels.
void gemm_part(const GemmArgs& a, int id, int parts) {
  interleave_part(a, id, parts);
  if (parts > 1) {
#pragma omp barrier
  }
  panel_range(a, a.panels * id / parts, a.panels * (id + 1) / parts);
}

// Assist::split's work: the interleaving is done; part 0 takes the first half of the panels.
void assisted_part(const void* ctx, int part) {
  const GemmArgs& a = *static_cast<const GemmArgs*>(ctx);
  panel_range(a, a.panels * part / 2, a.panels * (part + 1) / 2);
}

}  // namespace

HalfPanels HalfPanels::pack(const float* w, int64_t out, int64_t in) {
  HalfPanels h;
  if (out <= 0 || in <= 0 || !__builtin_cpu_supports("avx512f")) return h;
  const int64_t panels = (out + kCols - 1) / kCols;
  AlignedVector<uint16_t> buf(static_cast<size_t>(panels * in * kCols), 0);
  if (!pack_avx512(w, out, in, buf.data())) return h;
  h.in_ = in;
  h.out_ = out;
  h.panels_ = panels;
  h.w_ = std::move(buf);
  return h;
}

void HalfPanels::unpack(float* w) const {
  if (!empty()) unpack_avx512(w_.data(), out_, in_, w);
}

void HalfPanels::gemm(const float* x, int64_t rows, int64_t x_stride, const float* bias, float* y,
                      bool accumulate) const {
  if (empty() || rows < 1 || rows > kMaxRows || x_stride < in_) {
    fail("HalfPanels::gemm: ", rows, " rows (1..", kMaxRows, ") with row stride ", x_stride,
         " on a ", out_, "x", in_, " matrix");
  }
  GemmArgs a{x,         rows, x_stride, in_,        out_,   panels_, (rows + kMr - 1) / kMr,
             w_.data(), bias, y,        accumulate, nullptr};
  a.xp = thread_scratch(kScratchHalfRows, static_cast<size_t>(rows * in_));
  const int nt = omp_in_parallel() ? 1 : num_threads();
  if (nt <= 1 || panels_ < 2) {
    // A thread lent by the pipelined stream's other half (rvc/nn/assist.h) takes half the panels.
    Assist* helper = panels_ >= 2 ? Assist::available() : nullptr;
    if (helper) {
      interleave_part(a, 0, 1);
      helper->split(&assisted_part, &a);
    } else {
      gemm_part(a, 0, 1);
    }
    return;
  }
#pragma omp parallel num_threads(nt)
  gemm_part(a, omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace rvc::nn::detail
