// Golden test: faiss index load/search and the upstream retrieval blend (Pipeline.vc) against
// every fixture case of kind "index". Expectations come from each case's manifest.json.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "rvc/formats/faiss_index.h"
#include "rvc/formats/npy.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rvc::formats {
namespace {

using nlohmann::json;

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

    // Distances are sorted ascending in both, and a label swap happens only between near-equal
    // distances, so score and weight compare position by position; retrieved is a sum over the
    // row's neighbours and does not depend on their order.
    auto check = [&](const std::string& name, const std::vector<float>& got) {
      const Tensor want = test::load_tensor(c, "outputs", name);
      ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel()) << name;
      EXPECT_TRUE(test::all_close(name, got.data(), want.data(), want.numel(),
                                  test::tolerance_of(m, name)));
    };
    auto values = [](const Tensor& t) {
      return std::vector<float>(t.data(), t.data() + t.numel());
    };
    check("score", b.score);
    check("weight", values(b.weight));
    check("retrieved", values(b.retrieved));
    check("blended", values(b.blended));
    for (const auto& [name, spec] : m["outputs"].items()) {
      const std::set<std::string> known = {"score", "ix", "weight", "retrieved", "blended"};
      EXPECT_TRUE(known.count(name)) << "manifest output '" << name << "' is not checked";
    }
  }
}

}  // namespace
}  // namespace rvc::formats
