#include "rvc/formats/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "rvc/core/error.h"

namespace rvc::formats {
namespace {

constexpr int kDim = 8;

std::vector<float> random_rows(int n, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(n) * kDim);
  for (auto& x : v) x = nd(rng);
  return v;
}

std::vector<uint8_t> serialise(const faiss::Index& index) {
  faiss::VectorIOWriter w;
  faiss::write_index(&index, &w);
  return w.data;
}

std::vector<uint8_t> ivf_bytes(int n = 60, int nlist = 4) {
  faiss::IndexFlatL2 quantizer(kDim);
  faiss::IndexIVFFlat ivf(&quantizer, kDim, nlist);
  const auto rows = random_rows(n, 1);
  ivf.train(n, rows.data());
  ivf.add(n, rows.data());
  ivf.nprobe = 2;
  return serialise(ivf);
}

std::vector<uint8_t> flat_bytes(int n = 10) {
  faiss::IndexFlatL2 flat(kDim);
  const auto rows = random_rows(n, 2);
  flat.add(n, rows.data());
  return serialise(flat);
}

std::string error_of(const std::vector<uint8_t>& b) {
  try {
    FeatureIndex::load_from_memory(b.data(), b.size(), "t.index");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FaissIndex, LoadsIvfFlat) {
  const auto b = ivf_bytes();
  const FeatureIndex index = FeatureIndex::load_from_memory(b.data(), b.size());
  EXPECT_EQ(index.info().type, "IndexIVFFlat");
  EXPECT_EQ(index.dim(), kDim);
  EXPECT_EQ(index.ntotal(), 60);
  EXPECT_EQ(index.info().nlist, 4);
  EXPECT_EQ(index.info().nprobe, 2);
  EXPECT_EQ(index.info().metric, IndexMetric::kL2);
  EXPECT_NE(index.describe().find("nlist=4"), std::string::npos);
  // reconstruct_all returns the rows in add order; searching a stored row finds it at distance 0.
  const Tensor big = index.reconstruct_all();
  const auto rows = random_rows(60, 1);
  ASSERT_EQ(big.shape(), (Shape{60, kDim}));
  for (int64_t i = 0; i < big.numel(); ++i) EXPECT_EQ(big[i], rows[i]);
  const auto r = index.search(rows.data() + 7 * kDim, 1, 3);
  EXPECT_EQ(r.labels[0], 7);
  EXPECT_NEAR(r.distances[0], 0.0f, 1e-5f);
}

TEST(FaissIndex, LoadsFlatAndSearchesSquaredL2) {
  const auto b = flat_bytes();
  const FeatureIndex index = FeatureIndex::load_from_memory(b.data(), b.size());
  EXPECT_EQ(index.info().type, "IndexFlatL2");
  EXPECT_EQ(index.info().nlist, 0);
  const Tensor big = index.reconstruct_all();
  std::vector<float> q(kDim, 0.0f);
  const auto r = index.search(q.data(), 1, 12);  // k > ntotal: trailing labels are -1
  EXPECT_EQ(r.labels[11], -1);
  double d0 = 0;
  for (int c = 0; c < kDim; ++c) d0 += big[r.labels[0] * kDim + c] * big[r.labels[0] * kDim + c];
  EXPECT_NEAR(r.distances[0], d0, 1e-4);
}

TEST(FaissIndex, CheckDimNamesBoth) {
  const auto b = flat_bytes();
  const FeatureIndex index = FeatureIndex::load_from_memory(b.data(), b.size());
  EXPECT_NO_THROW(index.check_dim(kDim));
  try {
    index.check_dim(768);
    FAIL();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("8-d"), std::string::npos) << msg;
    EXPECT_NE(msg.find("768"), std::string::npos) << msg;
  }
}

TEST(FaissIndex, RefusesEveryTruncation) {
  for (const auto& b : {ivf_bytes(20, 2), flat_bytes(3)}) {
    for (size_t len = 0; len < b.size(); ++len) {
      const std::vector<uint8_t> t(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(len));
      EXPECT_NE(error_of(t), "") << "prefix of " << len << " bytes was accepted";
    }
  }
}

TEST(FaissIndex, RefusesWrongMagicAndUnsupportedTypes) {
  auto b = flat_bytes();
  std::memcpy(b.data(), "ABCD", 4);
  EXPECT_NE(error_of(b).find("unsupported index type 'ABCD' (expected IVF Flat or Flat)"),
            std::string::npos);
  faiss::IndexPQ pq(kDim, 2, 4);
  const auto rows = random_rows(64, 3);
  pq.train(64, rows.data());
  EXPECT_NE(error_of(serialise(pq)).find("unsupported index type 'IxPq'"), std::string::npos);
}

// Offsets in an IwFl file: fourcc 4, d 4, ntotal 8, 2 dummies 16, is_trained 1, metric 4.
constexpr size_t kNtotalOff = 8;
constexpr size_t kHeaderEnd = 4 + 4 + 8 + 16 + 1 + 4;

TEST(FaissIndex, RefusesCountsBeyondTheFile) {
  auto b = flat_bytes();
  int64_t huge = int64_t{1} << 40;
  std::memcpy(b.data() + kNtotalOff, &huge, 8);
  EXPECT_NE(error_of(b).find("exceeds"), std::string::npos) << error_of(b);

  b = ivf_bytes();
  uint64_t nlist = uint64_t{1} << 50;
  std::memcpy(b.data() + kHeaderEnd, &nlist, 8);
  EXPECT_NE(error_of(b), "");

  // The last inverted list's size claims more entries than remain.
  b = ivf_bytes();
  const uint8_t tag[4] = {'f', 'u', 'l', 'l'};
  const auto it = std::search(b.begin(), b.end(), tag, tag + 4);
  ASSERT_NE(it, b.end());
  const size_t sizes_off = static_cast<size_t>(it - b.begin()) + 4 + 8;
  uint64_t big = uint64_t{1} << 40;
  std::memcpy(b.data() + sizes_off + 3 * 8, &big, 8);
  EXPECT_NE(error_of(b).find("claims"), std::string::npos) << error_of(b);

  b = ivf_bytes();
  b[kHeaderEnd - 5] = 7;  // is_trained must be a bool
  EXPECT_NE(error_of(b).find("is_trained"), std::string::npos);
}

TEST(FaissIndex, RefusesInconsistentLists) {
  auto b = ivf_bytes();
  int64_t wrong = 59;  // ntotal no longer matches the lists
  std::memcpy(b.data() + kNtotalOff, &wrong, 8);
  EXPECT_NE(error_of(b), "");
  EXPECT_THROW(FeatureIndex::load("/nonexistent/added.index"), Error);
}

Tensor rows_tensor(std::initializer_list<float> v, int64_t dim) {
  Tensor t({static_cast<int64_t>(v.size()) / dim, dim});
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

TEST(IndexBlend, MatchesUpstreamFormula) {
  const Tensor big = rows_tensor({1, 0, 0, 1, 2, 2}, 2);
  const Tensor feats = rows_tensor({0, 0}, 2);
  const float score[2] = {1.0f, 2.0f};
  const int64_t ix[2] = {0, 2};
  const IndexBlend b = blend_from_neighbours(feats, big, score, ix, 2, 0.5f);
  // weights ∝ 1/score^2: 1 and 1/4 -> 0.8, 0.2
  EXPECT_NEAR(b.weight[0], 0.8f, 1e-6f);
  EXPECT_NEAR(b.weight[1], 0.2f, 1e-6f);
  EXPECT_NEAR(b.retrieved[0], 0.8f * 1 + 0.2f * 2, 1e-6f);
  EXPECT_NEAR(b.retrieved[1], 0.2f * 2, 1e-6f);
  EXPECT_NEAR(b.blended[0], 0.5f * b.retrieved[0], 1e-6f);
}

TEST(IndexBlend, DropsMissingNeighboursAndHandlesExactHits) {
  const Tensor big = rows_tensor({1, 0, 0, 1, 2, 2}, 2);
  const Tensor feats = rows_tensor({5, 5, 6, 6, 7, 7}, 2);
  const float score[6] = {1.0f, 3.0f, 0.0f, 0.0f, 4.0f, 2.0f};
  const int64_t ix[6] = {1, -1, 0, 2, -1, 99};  // row 2: none valid
  const IndexBlend b = blend_from_neighbours(feats, big, score, ix, 2, 1.0f);
  for (int64_t i = 0; i < b.blended.numel(); ++i) EXPECT_TRUE(std::isfinite(b.blended[i]));
  EXPECT_EQ(b.weight[0], 1.0f);  // the -1 neighbour is dropped, the rest renormalised
  EXPECT_EQ(b.weight[1], 0.0f);
  EXPECT_EQ(b.blended[0], 0.0f);
  EXPECT_EQ(b.blended[1], 1.0f);
  EXPECT_EQ(b.weight[2], 0.5f);  // two exact hits share the weight
  EXPECT_EQ(b.blended[2], 1.5f);
  EXPECT_EQ(b.blended[3], 1.0f);
  EXPECT_EQ(b.blended[4], 7.0f);  // no valid neighbour: original feature kept
  EXPECT_EQ(b.blended[5], 7.0f);
}

// ---- native search against faiss's own search -------------------------------------------------

struct Built {
  std::unique_ptr<faiss::Index> index;  // the faiss index the test searches directly
  std::vector<float> rows;              // what was added, by id
  std::vector<float> centroids;         // IVF only
  bool l2 = true;
  int dim = 0;
  int64_t nprobe = 1;
};

std::vector<float> gaussian(int64_t n, int dim, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (auto& x : v) x = nd(rng);
  return v;
}

// nlist == 0: a flat index.
Built build(int dim, int nlist, int64_t ntotal, int64_t nprobe, bool l2, int seed) {
  Built b;
  b.dim = dim;
  b.l2 = l2;
  b.nprobe = nprobe;
  b.rows = gaussian(ntotal, dim, seed);
  const auto metric = l2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  if (nlist == 0) {
    b.index = std::make_unique<faiss::IndexFlat>(dim, metric);
  } else {
    auto* q = new faiss::IndexFlat(dim, metric);
    auto ivf = std::make_unique<faiss::IndexIVFFlat>(q, dim, nlist, metric);
    ivf->own_fields = true;
    ivf->cp.niter = 4;
    ivf->train(ntotal, b.rows.data());
    ivf->nprobe = static_cast<size_t>(nprobe);
    b.centroids.assign(q->get_xb(), q->get_xb() + static_cast<size_t>(nlist) * dim);
    b.index = std::move(ivf);
  }
  b.index->add(ntotal, b.rows.data());
  return b;
}

double exact_dist(const Built& b, const float* x, const float* y) {
  double s = 0;
  for (int c = 0; c < b.dim; ++c) {
    s += b.l2 ? (double(x[c]) - y[c]) * (double(x[c]) - y[c]) : double(x[c]) * y[c];
  }
  return s;
}

bool near(double a, double b) { return std::abs(a - b) <= 1e-4 * std::max(std::abs(b), 1.0); }

// True when the nprobe-th and (nprobe+1)-th best centroids are tied within float rounding: faiss
// (BLAS formula for n >= 20) and the native direct sums may then probe different lists.
bool coarse_tie(const Built& b, const float* x) {
  const int64_t nlist = static_cast<int64_t>(b.centroids.size()) / b.dim;
  if (nlist == 0 || b.nprobe >= nlist) return false;
  std::vector<double> d;
  for (int64_t c = 0; c < nlist; ++c) d.push_back(exact_dist(b, x, b.centroids.data() + c * b.dim));
  if (b.l2) {
    std::sort(d.begin(), d.end());
  } else {
    std::sort(d.rbegin(), d.rend());
  }
  return near(d[b.nprobe], d[b.nprobe - 1]);
}

// Native search (through serialise + load) == faiss's search: the same labels except between
// tied distances, distances within 1e-4 relative, the same -1 / FLT_MAX fill.
void expect_matches_faiss(const Built& b, int64_t n, int k, int seed) {
  const auto bytes = serialise(*b.index);
  const FeatureIndex index = FeatureIndex::load_from_memory(bytes.data(), bytes.size());
  ASSERT_EQ(index.info().nprobe, b.centroids.empty() ? 0 : b.nprobe);
  const auto q = gaussian(n, b.dim, seed);
  const auto got = index.search(q.data(), n, k);
  std::vector<float> fd(static_cast<size_t>(n * k));
  std::vector<faiss::Index::idx_t> fl(static_cast<size_t>(n * k));
  b.index->search(n, q.data(), k, fd.data(), fl.data());
  int64_t skipped = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* x = q.data() + i * b.dim;
    const int64_t* gl = got.labels.data() + i * k;
    const float* gd = got.distances.data() + i * k;
    if (!std::equal(gl, gl + k, fl.data() + i * k) && coarse_tie(b, x)) {
      ++skipped;
      continue;
    }
    std::set<int64_t> seen;
    for (int j = 0; j < k; ++j) {
      const int64_t want = fl[i * k + j], have = gl[j];
      const float wd = fd[i * k + j];
      SCOPED_TRACE(testing::Message() << "query " << i << " rank " << j);
      if (want == -1 || have == -1) {
        EXPECT_EQ(have, want);
        EXPECT_EQ(gd[j], b.l2 ? FLT_MAX : -FLT_MAX);
        continue;
      }
      EXPECT_TRUE(near(gd[j], wd)) << gd[j] << " vs faiss " << wd;
      EXPECT_TRUE(seen.insert(have).second) << "label " << have << " returned twice";
      if (have != want) {  // allowed only for a tie: the returned vector is as near as faiss's
        ASSERT_GE(have, 0);
        ASSERT_LT(have, index.ntotal());
        EXPECT_TRUE(near(exact_dist(b, x, b.rows.data() + have * b.dim), wd))
            << "label " << have << " vs faiss " << want;
      }
    }
  }
  EXPECT_LE(skipped, 2) << "rows with a coarse near-tie";
  if (n == 1) {
    EXPECT_EQ(skipped, 0);
  }
}

struct Case {
  int dim, nlist;
  int64_t ntotal, nprobe;
  bool l2;
};

TEST(FaissIndexNative, MatchesFaissSearch) {
  const Case cases[] = {
      {8, 4, 60, 1, true},    {13, 16, 300, 3, true},  {32, 32, 40, 2, true},
      {24, 8, 200, 8, false}, {40, 20, 500, 1, false}, {7, 0, 50, 0, true},
      {17, 0, 120, 0, false}, {64, 10, 1000, 1, true}, {3, 0, 5, 0, true},
  };
  int seed = 10;
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "dim " << c.dim << " nlist " << c.nlist << " ntotal "
                                    << c.ntotal << " nprobe " << c.nprobe << " l2 " << c.l2);
    const Built b = build(c.dim, c.nlist, c.ntotal, c.nprobe, c.l2, seed++);
    for (const int64_t n : {1, 7, 100}) {
      for (const int k : {1, 8}) expect_matches_faiss(b, n, k, seed++);
    }
  }
}

TEST(FaissIndexNative, ShortListsFillWithMinusOne) {
  // 40 vectors over 32 lists: probing 2 lists finds fewer than 8 neighbours.
  const Built b = build(16, 32, 40, 2, true, 3);
  const auto bytes = serialise(*b.index);
  const FeatureIndex index = FeatureIndex::load_from_memory(bytes.data(), bytes.size());
  const auto q = gaussian(20, 16, 4);
  const auto r = index.search(q.data(), 20, 8);
  EXPECT_GT(std::count(r.labels.begin(), r.labels.end(), -1), 0);
  expect_matches_faiss(b, 20, 8, 4);
  // k beyond ntotal on a flat index, and an empty flat index.
  expect_matches_faiss(build(5, 0, 3, 0, true, 5), 4, 6, 6);
  expect_matches_faiss(build(5, 0, 0, 0, false, 5), 2, 3, 7);
}

TEST(FaissIndexNative, ExactTiesOrderedLikeFaiss) {
  // Every vector stored three times (ids i, i+n, i+2n): tied distances come back ordered by id
  // (ascending for L2; descending for inner product) and the first-seen copies are kept.
  for (const bool l2 : {true, false}) {
    for (const int nlist : {0, 3}) {
      Built b = build(8, nlist, 30, nlist ? 2 : 0, l2, 8);
      b.index->add(30, b.rows.data());
      b.index->add(30, b.rows.data());
      const auto rows = b.rows;
      b.rows.insert(b.rows.end(), rows.begin(), rows.end());
      b.rows.insert(b.rows.end(), rows.begin(), rows.end());
      const auto bytes = serialise(*b.index);
      const FeatureIndex index = FeatureIndex::load_from_memory(bytes.data(), bytes.size());
      for (const int k : {2, 4, 5}) {
        const int64_t n = 10;  // < 20: faiss uses direct sums for the coarse step too
        const auto q = gaussian(n, 8, 9);
        const auto got = index.search(q.data(), n, k);
        std::vector<float> fd(static_cast<size_t>(n * k));
        std::vector<faiss::Index::idx_t> fl(static_cast<size_t>(n * k));
        b.index->search(n, q.data(), k, fd.data(), fl.data());
        EXPECT_EQ(got.labels, std::vector<int64_t>(fl.begin(), fl.end()))
            << "l2 " << l2 << " nlist " << nlist << " k " << k;
      }
    }
  }
}

TEST(FaissIndexNative, BatchSizeDoesNotChangeResults) {
  // Large enough to take the multi-threaded path (several 64-query blocks).
  const Built b = build(64, 64, 20000, 4, true, 11);
  const auto bytes = serialise(*b.index);
  const FeatureIndex index = FeatureIndex::load_from_memory(bytes.data(), bytes.size());
  const int64_t n = 300;
  const auto q = gaussian(n, 64, 12);
  const auto all = index.search(q.data(), n, 8);
  for (int64_t i = 0; i < n; i += 37) {
    const auto one = index.search(q.data() + i * 64, 1, 8);
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(one.labels[j], all.labels[i * 8 + j]);
      EXPECT_EQ(one.distances[j], all.distances[i * 8 + j]);
    }
  }
  expect_matches_faiss(b, n, 8, 12);
}

TEST(FaissIndexNative, SetNprobeChangesTheProbedLists) {
  Built b = build(8, 16, 400, 1, true, 13);
  const auto bytes = serialise(*b.index);
  FeatureIndex index = FeatureIndex::load_from_memory(bytes.data(), bytes.size());
  index.set_nprobe(16);
  EXPECT_EQ(index.info().nprobe, 16);
  index.set_nprobe(1000);
  EXPECT_EQ(index.info().nprobe, 16);  // clamped to nlist
  // Probing every list is exhaustive: the same as a flat search over the stored rows.
  b.nprobe = 16;
  static_cast<faiss::IndexIVF*>(b.index.get())->nprobe = 16;
  const auto q = gaussian(5, 8, 14);
  const auto r = index.search(q.data(), 5, 4);
  for (int64_t i = 0; i < 5; ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (int64_t id = 0; id < 400; ++id) {
      all.emplace_back(exact_dist(b, q.data() + i * 8, b.rows.data() + id * 8), id);
    }
    std::sort(all.begin(), all.end());
    for (int j = 0; j < 4; ++j) EXPECT_EQ(r.labels[i * 4 + j], all[j].second);
  }
  index.set_nprobe(0);
  EXPECT_EQ(index.info().nprobe, 1);
}

}  // namespace
}  // namespace rvc::formats
