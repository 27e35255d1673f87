#include "rvc/formats/faiss_index.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "rvc/core/error.h"
#include "rvc/core/file.h"

namespace rvc::formats {
namespace {}  // namespace

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
  faiss::VectorIOReader reader;
  reader.data = std::move(bytes);
  reader.name = name;
  try {
    fi.index_.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {  // faiss::FaissException and std::bad_alloc
    fail(name, ": faiss could not read the index: ", e.what());
  }
  if (!fi.index_ || fi.index_->d != fi.info_.dim || fi.index_->ntotal != fi.info_.ntotal) {
    fail(name, ": faiss loaded an index that differs from its header");
  }
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(fi.index_.get())) {
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
  auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get());
  if (!ivf) return;
  const int64_t p = std::clamp<int64_t>(nprobe, 1, info_.nlist);
  ivf->nprobe = static_cast<size_t>(p);
  info_.nprobe = p;
}

Tensor FeatureIndex::reconstruct_all() const {
  Tensor out({info_.ntotal, info_.dim});
  if (info_.ntotal == 0) return out;
  try {
    index_->reconstruct_n(0, info_.ntotal, out.data());
  } catch (const std::exception& e) {
    fail("faiss reconstruct_n failed: ", e.what());
  }
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
  try {
    index_->search(n, queries, k, r.distances.data(), r.labels.data());
  } catch (const std::exception& e) {
    fail("faiss search failed: ", e.what());
  }
  return r;
}

IndexBlend blend_from_neighbours(const Tensor& feats, const Tensor& big_npy, const float* score,
                                 const int64_t* ix, int k, float index_rate) {
  if (feats.ndim() != 2 || big_npy.ndim() != 2 || feats.dim(1) != big_npy.dim(1)) {
    fail("index blend: feats ", shape_str(feats.shape()), " and big_npy ",
         shape_str(big_npy.shape()), " must be [n, dim] and [rows, dim]");
  }
  if (k < 1) fail("index blend: k must be >= 1, got ", k);
  const int64_t n = feats.dim(0), dim = feats.dim(1), rows = big_npy.dim(0);
  IndexBlend b;
  b.score.assign(score, score + n * k);
  b.ix.assign(ix, ix + n * k);
  b.weight = Tensor({n, k});
  b.retrieved = Tensor({n, dim});
  b.blended = Tensor({n, dim});
  std::vector<double> w(static_cast<size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    const float* s = score + i * k;
    const int64_t* l = ix + i * k;
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
    const float* f = feats.data() + i * dim;
    float* ret = b.retrieved.data() + i * dim;
    float* out = b.blended.data() + i * dim;
    if (sum <= 0.0) {
      std::copy(f, f + dim, ret);  // no valid neighbour: keep the original feature
    } else {
      for (int j = 0; j < k; ++j) {
        const float wj = static_cast<float>(w[j] / sum);
        b.weight[i * k + j] = wj;
        if (wj == 0.0f) continue;
        const float* src = big_npy.data() + l[j] * dim;
        for (int64_t c = 0; c < dim; ++c) ret[c] += src[c] * wj;
      }
    }
    for (int64_t c = 0; c < dim; ++c) out[c] = index_rate * ret[c] + (1.0f - index_rate) * f[c];
  }
  return b;
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
