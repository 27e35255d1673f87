// Native exact IVF-Flat / Flat search; semantics in ivf_search.h.
// ref: faiss v1.7.3 faiss/IndexIVF.cpp (IndexIVF::search, search_preassigned),
//      faiss/IndexIVFFlat.cpp (IVFFlatScanner), faiss/utils/Heap.h (heap_replace_top, cmp2,
//      heap_reorder), faiss/utils/distances.cpp (knn_L2sqr, knn_inner_product).
#include "formats/ivf_search.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cstring>
#include <exception>
#include <thread>

namespace rvc::formats::ivf {
namespace {

typedef float V8 __attribute__((vector_size(32)));

// out[r] = distance(x, y[r]) for the 4 rows y[0..3] (which may alias). 8 lanes per accumulator,
// lanes summed in order, then the dim % 8 tail: the same float operations on every SIMD path.
template <bool kL2>
[[gnu::always_inline]] inline void dist_1x4(const float* x, const float* const* y, int dim,
                                            float* out) {
  V8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
  int i = 0;
  for (; i + 8 <= dim; i += 8) {
    V8 xv, v0, v1, v2, v3;
    std::memcpy(&xv, x + i, sizeof xv);
    std::memcpy(&v0, y[0] + i, sizeof v0);
    std::memcpy(&v1, y[1] + i, sizeof v1);
    std::memcpy(&v2, y[2] + i, sizeof v2);
    std::memcpy(&v3, y[3] + i, sizeof v3);
    if constexpr (kL2) {
      v0 = xv - v0;
      v1 = xv - v1;
      v2 = xv - v2;
      v3 = xv - v3;
      a0 += v0 * v0;
      a1 += v1 * v1;
      a2 += v2 * v2;
      a3 += v3 * v3;
    } else {
      a0 += xv * v0;
      a1 += xv * v1;
      a2 += xv * v2;
      a3 += xv * v3;
    }
  }
  const V8* acc[4] = {&a0, &a1, &a2, &a3};
  for (int r = 0; r < 4; ++r) {
    float s = 0.0f;
    for (int l = 0; l < 8; ++l) s += (*acc[r])[l];
    for (int j = i; j < dim; ++j) {
      if constexpr (kL2) {
        const float d = x[j] - y[r][j];
        s += d * d;
      } else {
        s += x[j] * y[r][j];
      }
    }
    out[r] = s;
  }
}

// out[j] = distance(x, rows[j]) for ny contiguous rows of dim floats.
template <bool kL2>
[[gnu::always_inline]] inline void dist_rows_body(const float* x, const float* rows, int64_t ny,
                                                  int dim, float* out) {
  int64_t j = 0;
  for (; j + 4 <= ny; j += 4) {
    const float* y[4] = {rows + j * dim, rows + (j + 1) * dim, rows + (j + 2) * dim,
                         rows + (j + 3) * dim};
    dist_1x4<kL2>(x, y, dim, out + j);
  }
  for (; j < ny; ++j) {
    const float* y[4] = {rows + j * dim, rows + j * dim, rows + j * dim, rows + j * dim};
    float o[4];
    dist_1x4<kL2>(x, y, dim, o);
    out[j] = o[0];
  }
}

template <bool kL2>
__attribute__((target("avx2"))) void dist_rows_avx2(const float* x, const float* rows, int64_t ny,
                                                    int dim, float* out) {
  dist_rows_body<kL2>(x, rows, ny, dim, out);
}

template <bool kL2>
void dist_rows_generic(const float* x, const float* rows, int64_t ny, int dim, float* out) {
  dist_rows_body<kL2>(x, rows, ny, dim, out);
}

using DistRows = void (*)(const float*, const float*, int64_t, int, float*);

DistRows pick_kernel(IndexMetric m) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (m == IndexMetric::kL2) return avx2 ? dist_rows_avx2<true> : dist_rows_generic<true>;
  return avx2 ? dist_rows_avx2<false> : dist_rows_generic<false>;
}

// faiss's heap rule kept as a sorted array, best first. See ivf_search.h.
class TopK {
 public:
  TopK(bool l2, int k, float* d, int64_t* l) : l2_(l2), k_(k), d_(d), l_(l) {
    std::fill(d_, d_ + k_, l2_ ? FLT_MAX : -FLT_MAX);
    std::fill(l_, l_ + k_, int64_t{-1});
  }
  void push(float dist, int64_t id) {
    const float worst = d_[k_ - 1];
    if (!(l2_ ? dist < worst : dist > worst)) return;
    int p = k_ - 1;
    while (p > 0 && better(dist, id, d_[p - 1], l_[p - 1])) {
      d_[p] = d_[p - 1];
      l_[p] = l_[p - 1];
      --p;
    }
    d_[p] = dist;
    l_[p] = id;
  }

 private:
  bool better(float a, int64_t ia, float b, int64_t ib) const {
    if (l2_) return a < b || (a == b && ia < ib);
    return a > b || (a == b && ia > ib);
  }
  bool l2_;
  int k_;
  float* d_;
  int64_t* l_;
};

constexpr int64_t kQueryBlock = 64;  // queries per work item (coarse distances tiled by these)
constexpr int64_t kCentroidTile = 8;
constexpr int64_t kRowChunk = 256;

void search_block(const SearchData& s, int64_t nprobe, const float* queries, int64_t q0, int64_t q1,
                  int k, float* distances, int64_t* labels, Scratch& sc) {
  const int dim = s.dim;
  const DistRows scan = pick_kernel(s.metric);
  const bool l2 = s.metric == IndexMetric::kL2;
  if (s.is_ivf) {
    // Coarse distances for the whole block, centroid tile outermost so a tile stays in L1.
    const DistRows coarse = pick_kernel(s.coarse_metric);
    for (int64_t c0 = 0; c0 < s.nlist; c0 += kCentroidTile) {
      const int64_t nc = std::min(kCentroidTile, s.nlist - c0);
      for (int64_t q = q0; q < q1; ++q) {
        coarse(queries + q * dim, s.centroids.data() + c0 * dim, nc, dim,
               sc.coarse.data() + (q - q0) * s.nlist + c0);
      }
    }
  }
  const bool coarse_l2 = s.coarse_metric == IndexMetric::kL2;
  for (int64_t q = q0; q < q1; ++q) {
    const float* x = queries + q * dim;
    int64_t np = 1;
    if (s.is_ivf) {
      TopK probes(coarse_l2, static_cast<int>(nprobe), sc.probe_d.data(), sc.probe_l.data());
      const float* cd = sc.coarse.data() + (q - q0) * s.nlist;
      for (int64_t c = 0; c < s.nlist; ++c) probes.push(cd[c], c);
      np = nprobe;
    } else {
      sc.probe_l[0] = 0;
    }
    TopK best(l2, k, distances + q * k, labels + q * k);
    for (int64_t p = 0; p < np; ++p) {
      const int64_t list = sc.probe_l[p];
      if (list < 0) continue;
      const int64_t b = s.list_offsets[list], e = s.list_offsets[list + 1];
      for (int64_t r0 = b; r0 < e; r0 += kRowChunk) {
        const int64_t nr = std::min(kRowChunk, e - r0);
        scan(x, s.codes.data() + r0 * dim, nr, dim, sc.rows.data());
        for (int64_t r = 0; r < nr; ++r) best.push(sc.rows[r], s.ids[r0 + r]);
      }
    }
  }
}

}  // namespace

Scratch make_scratch(const SearchData& s) {
  Scratch sc;
  if (s.is_ivf) sc.coarse.resize(static_cast<size_t>(kQueryBlock * s.nlist));
  const auto np = static_cast<size_t>(std::max<int64_t>(1, s.nlist));
  sc.probe_d.resize(np);
  sc.probe_l.resize(np);
  sc.rows.resize(kRowChunk);
  return sc;
}

void search_serial(const SearchData& s, int64_t nprobe, const float* queries, int64_t n, int k,
                   float* distances, int64_t* labels, Scratch& sc) {
  if (n <= 0 || k <= 0) return;
  if (s.nlist <= 0) {
    std::fill(distances, distances + n * k, s.metric == IndexMetric::kL2 ? FLT_MAX : -FLT_MAX);
    std::fill(labels, labels + n * k, int64_t{-1});
    return;
  }
  nprobe = s.is_ivf ? std::min(std::max<int64_t>(nprobe, 1), s.nlist) : 1;
  for (int64_t q0 = 0; q0 < n; q0 += kQueryBlock) {
    search_block(s, nprobe, queries, q0, std::min(n, q0 + kQueryBlock), k, distances, labels, sc);
  }
}

void search(const SearchData& s, int64_t nprobe, const float* queries, int64_t n, int k,
            float* distances, int64_t* labels) {
  if (n <= 0 || k <= 0) return;
  if (s.nlist <= 0) {  // no lists at all: nothing can be found
    std::fill(distances, distances + n * k, s.metric == IndexMetric::kL2 ? FLT_MAX : -FLT_MAX);
    std::fill(labels, labels + n * k, int64_t{-1});
    return;
  }
  nprobe = s.is_ivf ? std::min(std::max<int64_t>(nprobe, 1), s.nlist) : 1;
  const int64_t nblocks = (n + kQueryBlock - 1) / kQueryBlock;
  // Work estimate in multiply-adds; threads only pay off for large batches.
  const int64_t ntotal = s.list_offsets.back();
  const double per_query =
      (static_cast<double>(s.is_ivf ? s.nlist : 0) +
       static_cast<double>(ntotal) * static_cast<double>(nprobe) / static_cast<double>(s.nlist)) *
      s.dim;
  int64_t nthreads = 1;
  if (nblocks > 1 && per_query * static_cast<double>(n) > 2e7) {
    nthreads = std::min<int64_t>(nblocks, std::max(1u, std::thread::hardware_concurrency()));
  }
  // All scratch is allocated here, before any thread starts.
  std::vector<Scratch> scratch(static_cast<size_t>(nthreads));
  for (auto& sc : scratch) {
    if (s.is_ivf) sc.coarse.resize(static_cast<size_t>(kQueryBlock * s.nlist));
    sc.probe_d.resize(static_cast<size_t>(nprobe));
    sc.probe_l.resize(static_cast<size_t>(nprobe));
    sc.rows.resize(kRowChunk);
  }
  std::atomic<int64_t> next{0};
  auto worker = [&](Scratch& sc) {
    for (int64_t b = next++; b < nblocks; b = next++) {
      const int64_t q0 = b * kQueryBlock, q1 = std::min(n, q0 + kQueryBlock);
      search_block(s, nprobe, queries, q0, q1, k, distances, labels, sc);
    }
  };
  std::vector<std::thread> threads;
  for (int64_t t = 1; t < nthreads; ++t) {
    try {
      threads.emplace_back(worker, std::ref(scratch[static_cast<size_t>(t)]));
    } catch (const std::exception&) {
      break;  // could not start a thread: the others (and this one) do the work
    }
  }
  worker(scratch[0]);
  for (auto& t : threads) t.join();
}

void reconstruct_all(const SearchData& s, int64_t ntotal, float* out) {
  const int64_t rows = s.ids.size();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t id = s.ids[r];
    if (id < 0 || id >= ntotal) continue;
    std::copy(s.codes.data() + r * s.dim, s.codes.data() + (r + 1) * s.dim, out + id * s.dim);
  }
}

}  // namespace rvc::formats::ivf
