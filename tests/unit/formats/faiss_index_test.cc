#include "rvc/formats/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexPQ.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

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

}  // namespace
}  // namespace rvc::formats
