// src/formats/ivf_search.h (private to rvc_formats): native exact search over the vectors of a
// faiss IndexIVFFlat / IndexFlat, copied out of faiss at load time.
//
// Semantics follow faiss 1.7.3 (IndexIVF::search_preassigned with the IVFFlat scanner, and
// IndexFlat::search):
//  - L2 distances are squared L2; inner-product "distances" are dot products (larger = better).
//  - IVF: the coarse step picks the nprobe best centroids under the quantizer's metric; the lists
//    are then scanned in that order (best centroid first), each list in stored order.
//  - Top-k selection is faiss's heap rule: a candidate enters only if strictly better than the
//    current worst kept entry (so among exact ties the one seen first stays), the kept entries are
//    ordered by (distance, id) (L2 ascending; IP descending, larger id first on ties), and missing
//    entries are label -1 with distance FLT_MAX (L2) or -FLT_MAX (IP). NaN never enters.
//  - Every distance is a direct float sum (of squared differences, or of products) with an 8-lane
//    accumulation, so results do not depend on batch size or on the SIMD path taken. faiss itself
//    uses BLAS (|x|^2 + |y|^2 - 2<x,y>) for the coarse step when n >= 20, so near-tied centroids
//    may be ordered differently there; the direct sum is the more accurate of the two.
// Thread-safety: search() only reads the data; concurrent calls are fine. Large batches use
// several threads internally.
#pragma once

#include <cstdint>
#include <vector>

#include "rvc/formats/faiss_index.h"

namespace rvc::formats::ivf {

struct SearchData {
  int dim = 0;
  IndexMetric metric = IndexMetric::kL2;         // metric of the list scan
  IndexMetric coarse_metric = IndexMetric::kL2;  // metric of the quantizer (IVF only)
  bool is_ivf = false;
  int64_t nlist = 1;                  // 1 for flat indexes (one list, ids 0..ntotal-1)
  std::vector<float> centroids;       // [nlist, dim], IVF only
  std::vector<int64_t> list_offsets;  // [nlist + 1] offsets into codes/ids (in vectors)
  std::vector<float> codes;           // [ntotal, dim], list by list in stored order
  std::vector<int64_t> ids;           // [ntotal]
};

// Per-caller scratch of one search thread.
struct Scratch {
  std::vector<float> coarse;     // [kQueryBlock, nlist] (IVF only)
  std::vector<float> probe_d;    // [nprobe]
  std::vector<int64_t> probe_l;  // [nprobe]
  std::vector<float> rows;       // [kRowChunk]
};

// Scratch for any nprobe up to nlist (allocates).
Scratch make_scratch(const SearchData& data);

// queries [n, dim] -> distances/labels [n, k]. nprobe is clamped to [1, nlist] (IVF only).
void search(const SearchData& data, int64_t nprobe, const float* queries, int64_t n, int k,
            float* distances, int64_t* labels);

// As search(), on the calling thread only, with caller scratch from make_scratch(data): never
// allocates. Same results as search().
void search_serial(const SearchData& data, int64_t nprobe, const float* queries, int64_t n, int k,
                   float* distances, int64_t* labels, Scratch& scratch);

// Writes every stored vector to out[id] for ids in [0, ntotal) ([ntotal, dim] row-major); others
// are skipped, like faiss's reconstruct_n.
void reconstruct_all(const SearchData& data, int64_t ntotal, float* out);

}  // namespace rvc::formats::ivf
