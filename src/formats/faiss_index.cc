#include "rvc/formats/faiss_index.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>

#include "formats/ivf_search.h"
#include "rvc/core/error.h"
#include "rvc/core/file.h"

namespace rvc::formats {
namespace {

IndexMetric metric_of(const faiss::Index& index, const std::string& name) {
  if (index.metric_type == faiss::METRIC_L2) return IndexMetric::kL2;
  if (index.metric_type == faiss::METRIC_INNER_PRODUCT) return IndexMetric::kInnerProduct;
  fail(name, ": unsupported faiss metric ", static_cast<int>(index.metric_type),
       " (expected L2 or inner product)");
}

// Copies what search needs out of the faiss object (validated by then).
std::unique_ptr<ivf::SearchData> copy_out(const faiss::Index& index, const std::string& name) {
  auto s = std::make_unique<ivf::SearchData>();
  s->dim = static_cast<int>(index.d);
  s->metric = metric_of(index, name);
  s->coarse_metric = s->metric;
  const size_t dim = static_cast<size_t>(index.d);
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(&index)) {
    const auto* q = dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer);
    const faiss::InvertedLists* il = ivf->invlists;
    if (!q || !il || q->d != index.d || static_cast<size_t>(q->ntotal) != ivf->nlist ||
        il->nlist != ivf->nlist || il->code_size != dim * sizeof(float)) {
      fail(name, ": IVF index has an unexpected quantizer or inverted lists");
    }
    s->is_ivf = true;
    s->coarse_metric = metric_of(*q, name);
    s->nlist = static_cast<int64_t>(ivf->nlist);
    s->centroids.assign(q->get_xb(), q->get_xb() + ivf->nlist * dim);
    s->list_offsets.assign(ivf->nlist + 1, 0);
    size_t total = 0;
    for (size_t l = 0; l < ivf->nlist; ++l) {
      total += il->list_size(l);
      s->list_offsets[l + 1] = static_cast<int64_t>(total);
    }
    if (total != static_cast<size_t>(index.ntotal)) {
      fail(name, ": inverted lists hold ", total, " vectors but ntotal is ", index.ntotal);
    }
    s->codes.resize(total * dim);
    s->ids.resize(total);
    for (size_t l = 0; l < ivf->nlist; ++l) {
      const size_t sz = il->list_size(l);
      if (sz == 0) continue;
      const auto off = static_cast<size_t>(s->list_offsets[l]);
      std::memcpy(s->codes.data() + off * dim, il->get_codes(l), sz * il->code_size);
      std::memcpy(s->ids.data() + off, il->get_ids(l), sz * sizeof(int64_t));
    }
  } else if (const auto* flat = dynamic_cast<const faiss::IndexFlat*>(&index)) {
    const auto n = static_cast<size_t>(flat->ntotal);
    s->nlist = 1;
    s->list_offsets = {0, static_cast<int64_t>(n)};
    s->codes.assign(flat->get_xb(), flat->get_xb() + n * dim);
    s->ids.resize(n);
    for (size_t i = 0; i < n; ++i) s->ids[i] = static_cast<int64_t>(i);
  } else {
    fail(name, ": faiss loaded an index of an unsupported type");
  }
  return s;
}

}  // namespace

FeatureIndex::FeatureIndex(FeatureIndex&&) noexcept = default;
FeatureIndex& FeatureIndex::operator=(FeatureIndex&&) noexcept = default;
FeatureIndex::~FeatureIndex() = default;

FeatureIndex FeatureIndex::load(const std::string& path) {
  return from_bytes(read_file_bytes(path, "index file"), path);
}

FeatureIndex FeatureIndex::load_from_memory(const uint8_t* data, size_t size,
                                            const std::string& name) {
  return from_bytes(std::vector<uint8_t>(data, data + size), name);
}

FeatureIndex FeatureIndex::from_bytes(std::vector<uint8_t> bytes, const std::string& name) {
  FeatureIndex fi;
  fi.info_ = validate_faiss_index(bytes.data(), bytes.size(), name);
  std::unique_ptr<faiss::Index> index;
  {
    faiss::VectorIOReader reader;
    reader.data = std::move(bytes);
    reader.name = name;
    try {
      index.reset(faiss::read_index(&reader));
    } catch (const std::exception& e) {  // faiss::FaissException and std::bad_alloc
      fail(name, ": faiss could not read the index: ", e.what());
    }
  }  // the file bytes are freed here, before the copy
  if (!index || index->d != fi.info_.dim || index->ntotal != fi.info_.ntotal) {
    fail(name, ": faiss loaded an index that differs from its header");
  }
  try {
    fi.data_ = copy_out(*index, name);
  } catch (const std::bad_alloc&) {
    fail(name, ": out of memory copying the index");
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index.get())) {
    fi.set_nprobe(static_cast<int64_t>(ivf->nprobe));
  }
  return fi;
}

std::string FeatureIndex::describe() const {
  std::ostringstream os;
  os << info_.type << " dim=" << info_.dim << " ntotal=" << info_.ntotal;
  if (info_.nlist > 0) os << " nlist=" << info_.nlist << " nprobe=" << info_.nprobe;
  os << " metric=" << (info_.metric == IndexMetric::kL2 ? "L2" : "IP");
  return os.str();
}

void FeatureIndex::check_dim(int expected_dim) const {
  if (info_.dim != expected_dim) {
    fail("index has ", info_.dim, "-d vectors but the model expects ", expected_dim,
         "-d features (",
         info_.dim == 256   ? "a v1 index"
         : info_.dim == 768 ? "a v2 index"
                            : "",
         info_.dim == 256 || info_.dim == 768 ? "; use the index trained with this model)" : ")");
  }
}

void FeatureIndex::set_nprobe(int64_t nprobe) {
  if (!data_ || !data_->is_ivf) return;
  info_.nprobe = std::max<int64_t>(1, std::min<int64_t>(nprobe, info_.nlist));
}

Tensor FeatureIndex::reconstruct_all() const {
  Tensor out({info_.ntotal, info_.dim});
  if (info_.ntotal == 0) return out;
  ivf::reconstruct_all(*data_, info_.ntotal, out.data());
  return out;
}

FeatureIndex::SearchResult FeatureIndex::search(const float* queries, int64_t n, int k) const {
  if (k < 1) fail("index search: k must be >= 1, got ", k);
  if (n < 0) fail("index search: negative query count ", n);
  SearchResult r;
  r.n = n;
  r.k = k;
  r.distances.assign(static_cast<size_t>(n) * k, 0.0f);
  r.labels.assign(static_cast<size_t>(n) * k, -1);
  if (n == 0) return r;
  ivf::search(*data_, info_.nprobe, queries, n, k, r.distances.data(), r.labels.data());
  return r;
}

namespace {

// One row of the blend (see faiss_index.h for the guards). w: k doubles of scratch; weight: k
// outputs or null; ret: dim floats, zeroed by the caller; out may alias f.
void blend_row(const float* f, const Tensor& big_npy, const float* s, const int64_t* l, int k,
               float index_rate, double* w, float* weight, float* ret, float* out) {
  const int64_t dim = big_npy.dim(1), rows = big_npy.dim(0);
  // Smallest valid distance, for the overflow-free form (min/s)^2.
  double smin = INFINITY;
  for (int j = 0; j < k; ++j) {
    if (l[j] < 0 || l[j] >= rows || std::isnan(s[j])) continue;
    smin = std::min(smin, std::max(0.0, static_cast<double>(s[j])));
  }
  double sum = 0.0;
  for (int j = 0; j < k; ++j) {
    w[j] = 0.0;
    if (l[j] < 0 || l[j] >= rows || std::isnan(s[j])) continue;
    const double sj = std::max(0.0, static_cast<double>(s[j]));
    if (smin == 0.0) {
      w[j] = sj == 0.0 ? 1.0 : 0.0;
    } else if (std::isfinite(sj)) {
      const double r = smin / sj;
      w[j] = r * r;
    } else if (std::isinf(smin)) {
      w[j] = 1.0;  // every valid distance is +inf: share equally
    }
    sum += w[j];
  }
  if (sum <= 0.0) {
    std::copy(f, f + dim, ret);  // no valid neighbour: keep the original feature
  } else {
    for (int j = 0; j < k; ++j) {
      const float wj = static_cast<float>(w[j] / sum);
      if (weight) weight[j] = wj;
      if (wj == 0.0f) continue;
      const float* src = big_npy.data() + l[j] * dim;
      for (int64_t c = 0; c < dim; ++c) ret[c] += src[c] * wj;
    }
  }
  for (int64_t c = 0; c < dim; ++c) out[c] = index_rate * ret[c] + (1.0f - index_rate) * f[c];
}

}  // namespace

IndexBlend blend_from_neighbours(const Tensor& feats, const Tensor& big_npy, const float* score,
                                 const int64_t* ix, int k, float index_rate) {
  if (feats.ndim() != 2 || big_npy.ndim() != 2 || feats.dim(1) != big_npy.dim(1)) {
    fail("index blend: feats ", shape_str(feats.shape()), " and big_npy ",
         shape_str(big_npy.shape()), " must be [n, dim] and [rows, dim]");
  }
  if (k < 1) fail("index blend: k must be >= 1, got ", k);
  const int64_t n = feats.dim(0), dim = feats.dim(1);
  IndexBlend b;
  b.score.assign(score, score + n * k);
  b.ix.assign(ix, ix + n * k);
  b.weight = Tensor({n, k});
  b.retrieved = Tensor({n, dim});
  b.blended = Tensor({n, dim});
  std::vector<double> w(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    blend_row(feats.data() + i * dim, big_npy, score + i * k, ix + i * k, k, index_rate, w.data(),
              b.weight.data() + i * k, b.retrieved.data() + i * dim, b.blended.data() + i * dim);
  }
  return b;
}

IndexBlendWorkspace::IndexBlendWorkspace() = default;
IndexBlendWorkspace::~IndexBlendWorkspace() = default;
IndexBlendWorkspace::IndexBlendWorkspace(IndexBlendWorkspace&&) noexcept = default;
IndexBlendWorkspace& IndexBlendWorkspace::operator=(IndexBlendWorkspace&&) noexcept = default;

IndexBlendWorkspace FeatureIndex::make_blend_workspace(int64_t max_queries, int k) const {
  if (max_queries < 0) fail("index blend workspace: negative query count ", max_queries);
  if (k < 1) fail("index blend workspace: k must be >= 1, got ", k);
  IndexBlendWorkspace ws;
  ws.max_n_ = max_queries;
  ws.k_ = k;
  ws.dim_ = info_.dim;
  ws.distances_.assign(static_cast<size_t>(max_queries * k), 0.0f);
  ws.labels_.assign(static_cast<size_t>(max_queries * k), -1);
  ws.w_.assign(static_cast<size_t>(k), 0.0);
  ws.row_.assign(static_cast<size_t>(info_.dim), 0.0f);
  ws.search_ = std::make_unique<ivf::Scratch>(ivf::make_scratch(*data_));
  return ws;
}

void blend_with_index(const FeatureIndex& index, const Tensor& big_npy, const float* feats,
                      int64_t n, float index_rate, IndexBlendWorkspace& ws, float* out) {
  if (!ws.search_ || ws.dim_ != index.dim()) {
    fail("index blend: the workspace was not made by this index (dim ", ws.dim_, " vs ",
         index.dim(), ")");
  }
  if (n < 0 || n > ws.max_n_) {
    fail("index blend: ", n, " queries, the workspace holds ", ws.max_n_);
  }
  if (big_npy.ndim() != 2 || big_npy.dim(1) != index.dim()) {
    fail("index blend: big_npy ", shape_str(big_npy.shape()), " must be [rows, ", index.dim(), "]");
  }
  const int k = ws.k_;
  const int64_t dim = index.dim();
  if (n == 0) return;
  std::fill(ws.distances_.begin(), ws.distances_.begin() + n * k, 0.0f);
  std::fill(ws.labels_.begin(), ws.labels_.begin() + n * k, int64_t{-1});
  ivf::search_serial(*index.data_, index.info_.nprobe, feats, n, k, ws.distances_.data(),
                     ws.labels_.data(), *ws.search_);
  for (int64_t i = 0; i < n; ++i) {
    std::fill(ws.row_.begin(), ws.row_.end(), 0.0f);
    blend_row(feats + i * dim, big_npy, ws.distances_.data() + i * k, ws.labels_.data() + i * k, k,
              index_rate, ws.w_.data(), nullptr, ws.row_.data(), out + i * dim);
  }
}

IndexBlend blend_with_index(const FeatureIndex& index, const Tensor& big_npy, const Tensor& feats,
                            float index_rate, int k) {
  if (feats.ndim() != 2)
    fail("index blend: feats must be [n, dim], got ", shape_str(feats.shape()));
  index.check_dim(static_cast<int>(feats.dim(1)));
  const auto r = index.search(feats.data(), feats.dim(0), k);
  return blend_from_neighbours(feats, big_npy, r.distances.data(), r.labels.data(), k, index_rate);
}

}  // namespace rvc::formats
