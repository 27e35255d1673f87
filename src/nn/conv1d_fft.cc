#include "conv1d_fft.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dnnl_exec.h"
#include "dnnl_util.h"
#include "rvc/core/error.h"

namespace rvc::nn::detail {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

struct FftConv1d::Entry {
  dnnl::matmul prim;
  memory::desc src_md, dst_md;
  memory weights;
};

namespace {

constexpr int64_t kLanes = 16;  // channels per vector block (one AVX-512 register)
// Tiles per product: 32 from 128 channels up, more for fewer channels (a product's rows are its
// tiles, and 32 x 32 x 32 products run far from peak): bin buffers of 0.8-1.6 MB.
int64_t max_tiles(int64_t channels) { return std::clamp<int64_t>(4096 / channels, 32, 128); }
constexpr int64_t kDft = 32;  // DFT length: 30..17 outputs per tile for 3..16 taps
// Each [mc rows][c] block of the bin buffers has one spare row: blocks of whole 4 KiB multiples
// (mc * c often is one) would put a vector's 48 slot/part addresses in one L1 set (12 ways) and
// the transforms would miss on every pass, while mc + 1 rows of c <= 256 floats never make one
// (mc is even). The spare row, rather than a few floats of padding, keeps the batched product
// dense, which oneDNN needs for its brgemm matmul: with a gap between blocks it runs gemm:jit,
// e.g. 48 x [24 x 128] x [128 x 128] at 195 against 222 GFLOP/s, and [40 x 64] x [64 x 64] at
// 163 against 216 (1 thread, hot). The product computes the spare rows too and nobody reads them.
int64_t block_rows(int64_t mc) { return mc + 1; }
int64_t block_stride(int64_t mc, int64_t c) { return block_rows(mc) * c; }

// Scratch of the calling thread: bins in, bins out, a zero row.
float* fft_scratch(int slot, size_t n) {
  thread_local AlignedVector<float> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

// One vector of kLanes channels (GCC vector extension: one AVX-512 register, two AVX2 ones).
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));
// Unaligned load and store of one vector (memcpy: no aliasing or alignment assumptions; macros
// because a function returning a 64-byte vector has a different ABI per target clone).
#define RVC_LOAD(dst, p) std::memcpy(&(dst), (p), sizeof(Lanes))
#define RVC_STORE(p, x) std::memcpy((p), &(x), sizeof(Lanes))

// Forward real DFT of one tile: rows[k] (k < n) are the tile's input frames of c channels.
// Slot s (stride `ss`) gets the real part of bin s at v, the imaginary part at v + im and their
// sum at v + 2 im (the three factors of the three-product complex multiply); slot 0 holds bin 0,
// bin n/2 (both real) and zeros. Real input, so the cosine sums need only the even parts
// e[k] = x[k] + x[n-k] and the sine sums the odd parts o[k] = x[k] - x[n-k] (k <= n/2); and
// since frame n/2 - k has frame k's cosine times (-1)^s and its sine times -(-1)^s, even bins
// need only e[k] + e[n/2-k] and o[k] - o[n/2-k], odd bins e[k] - e[n/2-k] and o[k] + o[n/2-k]
// (k <= n/4): about n/2 multiply-adds per bin. The length is the compile-time kDft so that every
// loop unrolls and the bins' sums are independent chains in registers. leaky: each input value
// x becomes max(x, slope * x) as it is read (the convolution's input activation; slope < 1).
__attribute__((target_clones("avx512f", "avx2", "default"))) void dft_tile(
    const float* const* rows, int64_t c, const float* fr, const float* fi, float* v, int64_t im,
    int64_t ss, bool leaky, float slope) {
  using V = Lanes;
  constexpr int64_t n = kDft, h = n / 2, q4 = n / 4, slots = n / 2;
  const auto act = [&](V& x) {
    if (leaky) {
      const V m = x * slope;
      x = x > m ? x : m;
    }
  };
  for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
    V ev[kDft / 2 + 1], od[kDft / 2 + 1];
    RVC_LOAD(ev[0], rows[0] + c0);
    RVC_LOAD(ev[h], rows[h] + c0);
    act(ev[0]);
    act(ev[h]);
    od[0] = V{};
    od[h] = V{};
#pragma GCC unroll 16
    for (int64_t k = 1; k < h; ++k) {
      V a, b;
      RVC_LOAD(a, rows[k] + c0);
      RVC_LOAD(b, rows[n - k] + c0);
      act(a);
      act(b);
      ev[k] = a + b;
      od[k] = a - b;
    }
    {  // slot 0: bin 0 and bin n/2 (sum of x[k] (-1)^k; n is even, so x[n-k] has k's sign)
      V r = ev[0], q = ev[0];
#pragma GCC unroll 16
      for (int64_t k = 1; k <= h; ++k) {
        r += ev[k];
        q = k % 2 == 0 ? q + ev[k] : q - ev[k];
      }
      const V z = V{};
      RVC_STORE(v + c0, r);
      RVC_STORE(v + im + c0, q);
      RVC_STORE(v + 2 * im + c0, z);
    }
    // Even bins: pe (cosine), qo (sine); odd bins: me, ro. The k = n/4 frame has no cosine in
    // odd bins and no sine in even ones.
    V pe[kDft / 4 + 1], me[kDft / 4 + 1], qo[kDft / 4 + 1], ro[kDft / 4 + 1];
#pragma GCC unroll 16
    for (int64_t k = 0; k < q4; ++k) {
      pe[k] = ev[k] + ev[h - k];
      me[k] = ev[k] - ev[h - k];
      qo[k] = od[k] - od[h - k];
      ro[k] = od[k] + od[h - k];
    }
    pe[q4] = ev[q4];
    ro[q4] = od[q4];
    const auto store = [&](int64_t s, const V& r, const V& q) {
      float* vs = v + s * ss;
      const V sum = r + q;
      RVC_STORE(vs + c0, r);
      RVC_STORE(vs + im + c0, q);
      RVC_STORE(vs + 2 * im + c0, sum);
    };
    // Odd bin s and even bin s + 1 together: four independent sums.
#pragma GCC unroll 8
    for (int64_t s = 1; s < slots; s += 2) {
      const float *cr = fr + s * n, *ci = fi + s * n;
      V r = V{}, q = V{};
#pragma GCC unroll 16
      for (int64_t k = 0; k < q4; ++k) r += me[k] * cr[k];
#pragma GCC unroll 16
      for (int64_t k = 1; k <= q4; ++k) q += ro[k] * ci[k];
      store(s, r, q);
      if (s + 1 < slots) {
        const float *cr2 = cr + n, *ci2 = ci + n;
        V r2 = V{}, q2 = V{};
#pragma GCC unroll 16
        for (int64_t k = 0; k <= q4; ++k) r2 += pe[k] * cr2[k];
#pragma GCC unroll 16
        for (int64_t k = 1; k < q4; ++k) q2 += qo[k] * ci2[k];
        store(s + 1, r2, q2);
      }
    }
  }
}

// Inverse DFT of one tile's mixed bins. Slot s (stride `ss`) holds the three real products of
// bin s (Gauss's complex multiply): k2 = re.(Hi - Hr) at y, k3 = im.(Hr + Hi) at y + im and
// k1 = (re + im).Hr at y + 2 im (c channels each), so the bin is re.Hr - im.Hi = k1 - k3 and
// re.Hi + im.Hr = k1 + k2; slot 0 holds bin 0 = re.H0 and bin n/2 = im.H(n/2).
// The tile's outputs sit at circular positions q = m - h0 (m < count), so output h0 + j and
// h0 - j share their cosine sums A_j = sum_s ir[j][s] re_s and sine sums B_j = sum_s
// ii[j][s] im_s: out[h0 + j] = bias + A_j + B_j, out[h0 - j] = bias + A_j - B_j (plus out[m]
// itself when accumulating and res[m] when given). Four j at a time (ir/ii have `rows`, a
// multiple of 4), so every bin feeds eight multiply-adds for up to eight outputs.
__attribute__((target_clones("avx512f", "avx2", "default"))) void idft_tile(
    const float* y, int64_t im, int64_t ss, int64_t c, const float* ir, const float* ii,
    int64_t rows, int64_t h0, const float* bias, int64_t count, float* const* out,
    const float* const* res, bool accumulate) {
  using V = Lanes;
  constexpr int64_t slots = kDft / 2;
  for (int64_t j = 0; j < rows; j += 4) {
    if (h0 + j >= count && h0 - j < 0) break;  // neither side of this group exists
    const float* r = ir + j * slots;           // rows j..j+3, `slots` each
    const float* q = ii + j * slots;
    for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
      V a[4], b[4], bv;
      RVC_LOAD(bv, bias + c0);
      {  // slot 0: bin 0 = re.H0, bin n/2 = im.H(n/2) (the same for +j and -j)
        V u, v;
        RVC_LOAD(u, y + c0);
        RVC_LOAD(v, y + im + c0);
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
          a[g] = bv + u * r[g * slots] + v * q[g * slots];
          b[g] = V{};
        }
      }
#pragma GCC unroll 16
      for (int64_t s = 1; s < slots; ++s) {
        V k1, k2, k3;
        RVC_LOAD(k2, y + s * ss + c0);
        RVC_LOAD(k3, y + s * ss + im + c0);
        RVC_LOAD(k1, y + s * ss + 2 * im + c0);
        const V u = k1 - k3, v = k1 + k2;
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
          a[g] += u * r[g * slots + s];
          b[g] += v * q[g * slots + s];
        }
      }
      const auto emit = [&](int64_t m, const V& val) {
        V t = val;
        float* o = out[m] + c0;
        if (accumulate) {
          V x;
          RVC_LOAD(x, o);
          t += x;
        }
        if (res) {
          V x;
          RVC_LOAD(x, res[m] + c0);
          t += x;
        }
        RVC_STORE(o, t);
      };
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        const int64_t jj = j + g, mp = h0 + jj, mm = h0 - jj;
        if (mp < count) emit(mp, a[g] + b[g]);
        if (jj > 0 && mm >= 0 && mm < count) emit(mm, a[g] - b[g]);
      }
    }
  }
}

int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

bool FftConv1d::suits(const Conv1dParams& p) {
  // The packed spectra take 1.5 N/k times the direct weights' memory: bounded to 12 MiB a layer
  // (up to 256 x 256 channels; the flow's 192 x 384 WaveNet layers would add 150 MB to a model
  // for a small share of its time). The transforms cost per channel and the products per
  // channel pair, so few channels do not pay: from 32 channels at 5+ taps, from 128 at 3-4 taps
  // (1.6 instead of 3 multiply-adds per frame and pair; at 64 channels direct is faster).
  const int64_t cmin = std::min(p.in_channels, p.out_channels);
  const bool pays = p.kernel >= 5 ? cmin >= 32 : p.kernel >= 3 && cmin >= 128;
  return p.groups == 1 && p.stride == 1 && pays && p.kernel <= 16 &&
         p.in_channels * p.out_channels <= 256 * 256 && p.in_channels % kLanes == 0 &&
         p.out_channels % kLanes == 0;
}

FftConv1d::FftConv1d(const Conv1dParams& p, const float* weight, const float* bias) : p_(p) {
  if (!suits(p)) fail("FftConv1d: unsupported parameters");
  n_ = kDft;
  b_ = n_ - p.kernel + 1;
  slots_ = n_ / 2;
  const double w0 = 2.0 * M_PI / static_cast<double>(n_);
  // Forward: slot 0 = (bin 0, bin n/2); slot s = bin s, re = sum x cos, im = -sum x sin.
  fr_.assign(static_cast<size_t>(slots_ * n_), 0.f);
  fi_.assign(static_cast<size_t>(slots_ * n_), 0.f);
  for (int64_t k = 0; k < n_; ++k) {
    fr_[static_cast<size_t>(k)] = 1.f;
    fi_[static_cast<size_t>(k)] = k % 2 == 0 ? 1.f : -1.f;
  }
  for (int64_t s = 1; s < slots_; ++s) {
    for (int64_t k = 0; k < n_; ++k) {
      const double ang = w0 * static_cast<double>((s * k) % n_);
      fr_[static_cast<size_t>(s * n_ + k)] = static_cast<float>(std::cos(ang));
      fi_[static_cast<size_t>(s * n_ + k)] = static_cast<float>(-std::sin(ang));
    }
  }
  // Inverse (real output) at circular position j (outputs h0 +- j): (bin0 + (-1)^j bin_{n/2}
  // + 2 sum_s re cos - im sin) / n; rows for j < b - h0, padded to the inverse's 4-row groups.
  h0_ = (b_ - 1) / 2;
  const int64_t pairs = b_ - h0_;
  rows_ = (pairs + 3) / 4 * 4;
  ir_.assign(static_cast<size_t>(rows_ * slots_), 0.f);
  ii_.assign(static_cast<size_t>(rows_ * slots_), 0.f);
  const double inv = 1.0 / static_cast<double>(n_);
  for (int64_t m = 0; m < pairs; ++m) {
    ir_[static_cast<size_t>(m * slots_)] = static_cast<float>(inv);
    ii_[static_cast<size_t>(m * slots_)] = static_cast<float>(m % 2 == 0 ? inv : -inv);
    for (int64_t s = 1; s < slots_; ++s) {
      const double ang = w0 * static_cast<double>((s * m) % n_);
      ir_[static_cast<size_t>(m * slots_ + s)] = static_cast<float>(2.0 * inv * std::cos(ang));
      ii_[static_cast<size_t>(m * slots_ + s)] = static_cast<float>(-2.0 * inv * std::sin(ang));
    }
  }
  weight_ = weight;  // Conv1d::weight_: a Tensor, whose buffer a move keeps
  bias_.assign(bias, bias + p.out_channels);
}

FftConv1d::~FftConv1d() = default;

// Built only while packing weights for a new primitive (the packed copy is what stays).
void FftConv1d::spectra(AlignedVector<float>& wmat) const {
  const double w0 = 2.0 * M_PI / static_cast<double>(n_);
  // The kernel's spectrum H_s = sum_j w_j e^{+i w0 s j} (correlation), as three [Cin][Cout]
  // matrices per slot for the three-product complex multiply: Hi - Hr (times re), Hr + Hi
  // (times im), Hr (times re + im); slot 0: H_0 (times bin 0), H_{n/2} (times bin n/2), zeros.
  const int64_t ci = p_.in_channels, co = p_.out_channels, k = p_.kernel;
  const int64_t mat = ci * co;
  std::vector<double> cs(static_cast<size_t>(n_)), sn(static_cast<size_t>(n_));
  for (int64_t j = 0; j < n_; ++j) {
    cs[static_cast<size_t>(j)] = std::cos(w0 * static_cast<double>(j));
    sn[static_cast<size_t>(j)] = std::sin(w0 * static_cast<double>(j));
  }
  wmat.assign(static_cast<size_t>(3 * slots_ * mat), 0.f);
  for (int64_t o = 0; o < co; ++o) {
    for (int64_t i = 0; i < ci; ++i) {
      const float* w = weight_ + (o * ci + i) * k;
      for (int64_t s = 0; s < slots_; ++s) {
        float* m = wmat.data() + 3 * s * mat + i * co + o;
        double hr = 0.0, hi = 0.0;
        if (s == 0) {
          double alt = 0.0;
          for (int64_t j = 0; j < k; ++j) {
            hr += w[j];
            alt += j % 2 == 0 ? w[j] : -w[j];
          }
          m[0] = static_cast<float>(hr);
          m[mat] = static_cast<float>(alt);
          continue;
        }
        for (int64_t j = 0; j < k; ++j) {
          const auto a = static_cast<size_t>((s * j) % n_);
          hr += w[j] * cs[a];
          hi += w[j] * sn[a];
        }
        m[0] = static_cast<float>(hi - hr);
        m[mat] = static_cast<float>(hr + hi);
        m[2 * mat] = static_cast<float>(hr);
      }
    }
  }
}

int64_t FftConv1d::tiles(int64_t t_out) const {
  const int64_t d = p_.dilation;
  int64_t total = 0;
  for (int64_t phi = 0; phi < std::min(d, t_out); ++phi) {
    const int64_t len = (t_out - phi + d - 1) / d;
    total += (len + b_ - 1) / b_;
  }
  return total;
}

// Tiles per matrix product: all of them up to max_tiles(), else equal chunks; rounded up to a
// bucket so that a layer needs few primitives whatever the lengths.
int64_t FftConv1d::chunk_tiles(int64_t t_out, int nt) const {
  const int64_t t = std::max<int64_t>(tiles(t_out), 1);
  const int64_t mt = max_tiles(std::max(p_.in_channels, p_.out_channels));
  int64_t chunks = (t + mt - 1) / mt;
  if (nt > 1 && t >= 2 * nt) chunks = (chunks + nt - 1) / nt * nt;  // every thread gets chunks
  const int64_t m = (t + chunks - 1) / chunks;
  const int64_t g = std::max<int64_t>(next_pow2(m) / 8, 4);
  return (m + g - 1) / g * g;
}

double FftConv1d::work(int64_t t_out, int64_t plan_t_out) const {
  if (t_out <= 0) return 0.0;
  const int64_t mc = chunk_tiles(std::max(t_out, plan_t_out), 1);
  const int64_t chunks = (tiles(t_out) + mc - 1) / mc;
  return 1.5 * static_cast<double>(chunks * mc * n_);
}

FftConv1d::Entry* FftConv1d::entry(int64_t mc, int threads) const {
  const auto key = std::make_tuple(mc, threads);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second.get();
  // oneDNN fixes a primitive's thread count when it is created (1 inside a parallel region).
  const int saved = omp_get_max_threads();
  if (!omp_in_parallel() && saved != threads) omp_set_num_threads(threads);
  const auto& eng = cpu_engine();
  const int64_t k2 = p_.in_channels, n2 = p_.out_channels, batch = 3 * slots_;
  memory::desc src_md({batch, block_rows(mc), k2}, Dt::f32, {block_stride(mc, k2), k2, 1});
  memory::desc dst_md({batch, block_rows(mc), n2}, Dt::f32, {block_stride(mc, n2), n2, 1});
  memory::desc w_any({batch, k2, n2}, Dt::f32, Tag::any);
  dnnl::matmul::desc d(src_md, w_any, dst_md);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // bound by run_primitive()
  dnnl::matmul::primitive_desc pd(d, attr, eng);
  auto e = std::make_unique<Entry>();
  e->prim = dnnl::matmul(pd);
  if (!omp_in_parallel() && saved != threads) omp_set_num_threads(saved);
  e->src_md = src_md;
  e->dst_md = dst_md;
  if (packed_ && packed_.get_desc() == pd.weights_desc()) {
    e->weights = packed_;
  } else {
    AlignedVector<float> wmat;
    spectra(wmat);
    memory src_w({{batch, k2, n2}, Dt::f32, Tag::abc}, eng, wmat.data());
    memory packed(pd.weights_desc(), eng);
    apply_threads();
    dnnl::reorder(src_w, packed).execute(thread_stream(), src_w, packed);
    thread_stream().wait();
    if (!packed_) packed_ = packed;
    e->weights = packed;
  }
  Entry* raw = e.get();
  cache_.emplace(key, std::move(e));
  return raw;
}

void FftConv1d::prepare(int64_t t_out) const {
  if (t_out <= 0) return;
  const int nt = use_threads();  // 1 inside a parallel region: one thread runs every chunk
  const int64_t mc = chunk_tiles(t_out, nt);
  const int64_t chunks = (tiles(t_out) + mc - 1) / mc;
  entry(mc, nt > 1 && chunks > 1 ? 1 : nt);
}

void FftConv1d::forward(const float* x, int64_t t_in, float* y, int64_t t_out,
                        const ConvEpilogue& ep, int64_t plan_t_out) const {
  if (t_out <= 0) return;
  const int nt = use_threads();  // 1 inside a parallel region: one thread runs every chunk
  const int64_t mc = chunk_tiles(std::max(t_out, plan_t_out), nt);
  const int64_t ci = p_.in_channels, co = p_.out_channels, d = p_.dilation;
  // Per slot: the tiles' real parts (mc rows of ci), their imaginary parts, their sums; products
  // likewise three blocks of [mc rows][co].
  const int64_t vp = block_stride(mc, ci), yp = block_stride(mc, co);  // part strides
  const int64_t vs = 3 * vp, ys = 3 * yp;                              // slot strides
  const int64_t total = tiles(t_out);
  const int64_t chunks = (total + mc - 1) / mc;
  const bool post = p_.post != PostOp::kNone || ep.scale != 1.f || ep.post2 != PostOp::kNone;
  const bool leaky_in = ep.pre == PostOp::kLeakyRelu;
  const int64_t b = b_, n = n_;
  // Tile g -> (phase, first output of the phase's subsequence, outputs in the tile).
  auto locate = [&](int64_t g, int64_t* phi, int64_t* m0, int64_t* cnt) {
    for (int64_t f = 0; f < d; ++f) {
      const int64_t len = (t_out - f + d - 1) / d;
      const int64_t tp = (len + b - 1) / b;
      if (g < tp) {
        *phi = f;
        *m0 = g * b;
        *cnt = std::min(b, len - g * b);
        return;
      }
      g -= tp;
    }
  };
  // One chunk of tiles on the calling thread: transforms, the bin products (with `threads`),
  // inverse transforms and epilogue, in that thread's scratch. Tiles write disjoint outputs.
  auto run_chunk = [&](int64_t g0, int threads) {
    const int64_t cnt_tiles = std::min(mc, total - g0);
    Entry* e = entry(mc, threads);
    float* vbuf = fft_scratch(0, static_cast<size_t>(slots_ * vs));
    float* ybuf = fft_scratch(1, static_cast<size_t>(slots_ * ys));
    float* zero = fft_scratch(2, static_cast<size_t>(ci));
    std::fill(zero, zero + ci, 0.f);
    for (int64_t i = 0; i < cnt_tiles; ++i) {
      int64_t phi = 0, m0 = 0, cnt = 0;
      locate(g0 + i, &phi, &m0, &cnt);
      const float* rows[64];
      for (int64_t k = 0; k < n; ++k) {
        // DFT position k holds tile frame (k + h0) mod n: output m lands at position m - h0.
        const int64_t ti = phi - p_.pad_left + d * (m0 + (k + h0_) % n);
        rows[k] = ti >= 0 && ti < t_in ? x + ti * ci : zero;
      }
      dft_tile(rows, ci, fr_.data(), fi_.data(), vbuf + i * ci, vp, vs, leaky_in, ep.pre_alpha);
    }
    run_primitive(e->prim,
                  {bound(DNNL_ARG_SRC, e->src_md, vbuf), fixed(DNNL_ARG_WEIGHTS, e->weights),
                   bound(DNNL_ARG_DST, e->dst_md, ybuf)});
    for (int64_t i = 0; i < cnt_tiles; ++i) {
      int64_t phi = 0, m0 = 0, cnt = 0;
      locate(g0 + i, &phi, &m0, &cnt);
      float* out[64];
      const float* res[64];
      for (int64_t m = 0; m < cnt; ++m) {
        const int64_t t = phi + d * (m0 + m);
        out[m] = y + t * co;
        res[m] = ep.residual ? ep.residual + t * co : nullptr;
      }
      idft_tile(ybuf + i * co, yp, ys, co, ir_.data(), ii_.data(), rows_, h0_, bias_.data(), cnt,
                out, ep.residual ? res : nullptr, ep.accumulate);
      if (post) {
        for (int64_t m = 0; m < cnt; ++m) {
          apply_post(out[m], static_cast<size_t>(co), p_.post, p_.alpha);
          if (ep.scale != 1.f) {
            for (int64_t c = 0; c < co; ++c) out[m][c] *= ep.scale;
          }
          apply_post(out[m], static_cast<size_t>(co), ep.post2, ep.alpha2);
        }
      }
    }
  };
  if (nt > 1 && chunks > 1 && !omp_in_parallel()) {
    // Whole chunks per thread, each with single-threaded products: no barrier inside a chunk
    // and every thread's bins stay in its own cache.
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t ch = 0; ch < chunks; ++ch) run_chunk(ch * mc, 1);
  } else {
    for (int64_t ch = 0; ch < chunks; ++ch) run_chunk(ch * mc, omp_in_parallel() ? 1 : nt);
  }
}

}  // namespace rvc::nn::detail
