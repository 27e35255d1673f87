// libFuzzer target: the validating faiss index pre-parser followed by the faiss load, search and
// reconstruct on whatever it accepts. Any rvc::Error is an accepted outcome; a crash, sanitizer
// report, hang or unbounded allocation is a bug. Seeds: tests/fuzz/seeds/index/.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/faiss_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const rvc::formats::FeatureIndex index =
        rvc::formats::FeatureIndex::load_from_memory(data, size, "fuzz.index");
    const rvc::Tensor big = index.reconstruct_all();
    std::vector<float> query(static_cast<size_t>(index.dim()), 0.25f);
    const auto r = index.search(query.data(), 1, 4);
    rvc::Tensor feats({1, index.dim()}, query.data());
    rvc::formats::blend_from_neighbours(feats, big, r.distances.data(), r.labels.data(), 4, 0.75f);
  } catch (const rvc::Error&) {
  }
  return 0;
}
