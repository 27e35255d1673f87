// rvc/formats/faiss_index.h: the faiss retrieval index of an RVC voice (added_*.index) and the
// upstream feature blend.
//
// Loading is two-step for safety: faiss's own reader trusts the file, so every file is first
// walked by validate_faiss_index(), which checks each count and size against the bytes left, and
// only then handed to faiss::read_index (from memory). Supported types are the ones RVC users
// have: IndexIVFFlat ("IwFl") with a flat quantizer and array inverted lists ("ilar"), and plain
// IndexFlat ("IxF2" L2, "IxFI" inner product, "IxFl"). Anything else is refused with
// "unsupported index type 'XXXX' (expected IVF Flat or Flat)". All errors are rvc::Error.
//
// Search is native (src/formats/ivf_search.*): at load the centroids, inverted lists (vectors and
// ids) or flat vectors are copied out of faiss into contiguous arrays and the faiss object is
// freed. Results follow faiss 1.7.3's semantics (labels, order, tie rule, -1 / FLT_MAX fill);
// distances are direct float sums, equal to faiss's to float rounding.
//
// Thread-safety: a loaded FeatureIndex is immutable except set_nprobe(); search() and
// reconstruct_all() on a const index may run concurrently. search() uses several threads for
// large batches (thousands of queries on a full-size index).
// Real-time use: make an IndexBlendWorkspace once (set-up, allocates); blend_with_index(...,
// workspace, out) then runs on the calling thread only and allocates, locks and logs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"

namespace rvc::formats {
namespace ivf {
struct SearchData;
struct Scratch;
}  // namespace ivf
class FeatureIndex;

// Caller-owned scratch of the allocation-free blend (one per concurrent caller): search results
// and weights for up to max_queries rows with k neighbours. Movable; tied to the index that made
// it (make_blend_workspace) only through its sizes (dim, nlist).
class IndexBlendWorkspace {
 public:
  IndexBlendWorkspace();
  ~IndexBlendWorkspace();
  IndexBlendWorkspace(IndexBlendWorkspace&&) noexcept;
  IndexBlendWorkspace& operator=(IndexBlendWorkspace&&) noexcept;
  int64_t max_queries() const { return max_n_; }
  int k() const { return k_; }

 private:
  friend class FeatureIndex;
  friend void blend_with_index(const FeatureIndex&, const Tensor&, const float*, int64_t, float,
                               IndexBlendWorkspace&, float*);
  int64_t max_n_ = 0;
  int k_ = 0, dim_ = 0;
  std::vector<float> distances_;  // [max_n, k]
  std::vector<int64_t> labels_;   // [max_n, k]
  std::vector<double> w_;         // [k]
  std::vector<float> row_;        // [dim]
  std::unique_ptr<ivf::Scratch> search_;
};

enum class IndexMetric { kInnerProduct = 0, kL2 = 1 };

struct IndexInfo {
  std::string type;    // "IndexIVFFlat", "IndexFlatL2", "IndexFlatIP", "IndexFlat"
  std::string fourcc;  // "IwFl", "IxF2", ...
  int dim = 0;
  int64_t ntotal = 0;
  int64_t nlist = 0;   // 0 for flat indexes
  int64_t nprobe = 0;  // as stored in the file; 0 for flat indexes
  IndexMetric metric = IndexMetric::kL2;
};

// Walks the serialised index without trusting any count. Returns what it found; throws
// rvc::Error naming `name`, the byte offset and what was expected. Allocates O(1) memory.
IndexInfo validate_faiss_index(const uint8_t* data, size_t size, const std::string& name);

class FeatureIndex {
 public:
  // Reads, validates, loads. Throws rvc::Error (faiss exceptions are converted).
  static FeatureIndex load(const std::string& path);
  static FeatureIndex load_from_memory(const uint8_t* data, size_t size,
                                       const std::string& name = "<memory>");

  FeatureIndex(FeatureIndex&&) noexcept;
  FeatureIndex& operator=(FeatureIndex&&) noexcept;
  ~FeatureIndex();

  const IndexInfo& info() const { return info_; }
  int dim() const { return info_.dim; }
  int64_t ntotal() const { return info_.ntotal; }
  // "IndexIVFFlat dim=768 ntotal=1200 nlist=30 nprobe=1 metric=L2"
  std::string describe() const;
  // Throws unless dim() == expected_dim, naming both (e.g. a 256-d v1 index with a 768-d model).
  void check_dim(int expected_dim) const;
  // IVF only: lists probed per query, clamped to [1, nlist]. No-op for flat indexes.
  void set_nprobe(int64_t nprobe);

  // Scratch for blend_with_index(..., workspace, out) calls of up to max_queries rows and k
  // neighbours. Allocates (set-up). Throws rvc::Error when max_queries < 0 or k < 1.
  IndexBlendWorkspace make_blend_workspace(int64_t max_queries, int k = 8) const;

  // All stored vectors by id, [ntotal, dim] row-major (upstream: index.reconstruct_n(0, ntotal)).
  Tensor reconstruct_all() const;

  struct SearchResult {
    int64_t n = 0, k = 0;
    std::vector<float> distances;  // [n, k]; squared L2 for L2 indexes
    std::vector<int64_t> labels;   // [n, k]; -1 where fewer than k neighbours were found
  };
  // queries: [n, dim] row-major. k >= 1. L2: ascending squared distances; inner product:
  // descending dot products. Missing neighbours: label -1, distance FLT_MAX (L2) / -FLT_MAX (IP).
  SearchResult search(const float* queries, int64_t n, int k) const;

 private:
  friend void blend_with_index(const FeatureIndex&, const Tensor&, const float*, int64_t, float,
                               IndexBlendWorkspace&, float*);

  FeatureIndex() = default;
  static FeatureIndex from_bytes(std::vector<uint8_t> bytes, const std::string& name);
  IndexInfo info_;
  std::unique_ptr<ivf::SearchData> data_;  // never null after load
};

// The upstream retrieval blend, with each intermediate kept for tests.
struct IndexBlend {
  std::vector<float> score;  // [n, k] search distances
  std::vector<int64_t> ix;   // [n, k] labels
  Tensor weight;             // [n, k]
  Tensor retrieved;          // [n, dim]
  Tensor blended;            // [n, dim]
};

// ref: infer/modules/vc/pipeline.py, Pipeline.vc (index branch):
//   weight = square(1/score) normalised per row; retrieved = sum_k big_npy[ix] * weight;
//   blended = index_rate * retrieved + (1 - index_rate) * feats.
// Guards (upstream would produce NaN or index out of range):
//  - a label < 0 or >= big_npy rows (faiss's -1 "no neighbour") is dropped: weight 0, and the
//    remaining weights are renormalised;
//  - a NaN score drops that neighbour; a negative score counts as 0;
//  - score == 0 (an exact hit) is the limit of 1/d^2 weights: the weight is shared equally by
//    the zero-distance neighbours and the others get 0 (no inf/NaN);
//  - a row with no valid neighbour keeps its original feature (retrieved = feats row).
// Weights are computed as (min_score / score)^2 / sum, which equals upstream's normalised
// square(1/score) but cannot overflow.
// feats: [n, dim]; big_npy: [rows, dim]; score/ix: [n, k].
IndexBlend blend_from_neighbours(const Tensor& feats, const Tensor& big_npy, const float* score,
                                 const int64_t* ix, int k, float index_rate);
// search + blend_from_neighbours. big_npy normally = index.reconstruct_all(), computed once.
IndexBlend blend_with_index(const FeatureIndex& index, const Tensor& big_npy, const Tensor& feats,
                            float index_rate, int k = 8);
// The same blend, allocation-free: feats [n, dim] row-major with dim == index.dim() and
// n <= ws.max_queries(); k = ws.k(); the search runs on the calling thread. out [n, dim] receives
// the blended rows (bit-identical to blend_with_index(...).blended) and may alias feats. Throws
// rvc::Error on a size mismatch (a set-up error; it never throws for sizes the workspace fits).
void blend_with_index(const FeatureIndex& index, const Tensor& big_npy, const float* feats,
                      int64_t n, float index_rate, IndexBlendWorkspace& ws, float* out);

}  // namespace rvc::formats
