// Private helpers for the oneDNN fast paths of rvc::nn (not a public header).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn::detail {

// The process-wide CPU engine.
const dnnl::engine& cpu_engine();
// A stream for the calling thread.
dnnl::stream& thread_stream();

// Applies num_threads() to the calling thread's OpenMP settings.
inline void apply_threads() {
  int n = num_threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
}

// The thread count a primitive created now is built for, applied to the calling thread's OpenMP
// settings (oneDNN reads omp_get_max_threads() when it creates a primitive and fixes its thread
// plan then). Inside an active OpenMP region oneDNN runs single-threaded, so that is 1 there.
// Read once per call and used both as the cache key and for creation.
inline int use_threads() {
  const int n = omp_in_parallel() ? 1 : num_threads();
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
  return n;
}

// A layer's primitives keyed by (thread count, shape key). oneDNN (OpenMP runtime) fixes a
// primitive's thread count at creation, so an entry made while num_threads() was 1 must not
// serve a call made at 2 (it would stay single-threaded), nor one made at 2 serve a call at 1.
// Bounded: at most `max_per_threads` entries per thread count (when full, that count's entries
// are dropped) and kMaxThreadCounts thread counts (the least recently used one is dropped).
// Callers hold shared_ptrs, so dropping never frees an entry in use. Not synchronised: the
// owning layer locks around it. find() allocates nothing.
template <class Key, class Entry>
class PrimitiveCache {
 public:
  static constexpr size_t kMaxThreadCounts = 4;

  explicit PrimitiveCache(size_t max_per_threads = SIZE_MAX) : max_per_threads_(max_per_threads) {}

  std::shared_ptr<Entry> find(int threads, const Key& key) {
    Group* g = group(threads);
    if (!g) return nullptr;
    g->last_use = ++clock_;
    const auto it = g->entries.find(key);
    return it == g->entries.end() ? nullptr : it->second;
  }

  void insert(int threads, const Key& key, std::shared_ptr<Entry> e) {
    Group* g = group(threads);
    if (!g) {
      if (groups_.size() >= kMaxThreadCounts) {
        auto lru = std::min_element(
            groups_.begin(), groups_.end(),
            [](const Group& a, const Group& b) { return a.last_use < b.last_use; });
        groups_.erase(lru);
      }
      groups_.push_back(Group{threads, 0, {}});
      g = &groups_.back();
    }
    if (g->entries.size() >= max_per_threads_) g->entries.clear();
    g->last_use = ++clock_;
    g->entries.insert_or_assign(key, std::move(e));
  }

  // Entries in all thread counts / thread counts held (for tests and diagnostics).
  size_t size() const {
    size_t n = 0;
    for (const Group& g : groups_) n += g.entries.size();
    return n;
  }
  size_t thread_counts() const { return groups_.size(); }

 private:
  struct Group {
    int threads;
    uint64_t last_use;
    std::map<Key, std::shared_ptr<Entry>> entries;
  };
  Group* group(int threads) {
    for (Group& g : groups_) {
      if (g.threads == threads) return &g;
    }
    return nullptr;
  }
  size_t max_per_threads_;
  uint64_t clock_ = 0;
  std::vector<Group> groups_;
};

// Weights reordered into the layouts primitives ask for: one copy per distinct layout, shared
// by every entry whose weights_desc matches (a new thread count or shape usually asks for a
// layout already packed). At most kMaxLayouts are kept; further ones belong to their entry only.
// Not synchronised: the owning layer locks around it.
class PackedWeights {
 public:
  static constexpr size_t kMaxLayouts = 4;
  // The kept copy in layout `want`, or an empty memory.
  dnnl::memory find(const dnnl::memory::desc& want) const;
  // Reorders `src` into a new memory of layout `want` (on the calling thread, with
  // num_threads() threads), keeps it while fewer than kMaxLayouts are kept, and returns it.
  dnnl::memory pack(dnnl::memory src, const dnnl::memory::desc& want);
  size_t layouts() const { return kept_.size(); }

 private:
  std::vector<dnnl::memory> kept_;
};

// Where the accumulate (sum) post-op goes relative to the activation.
enum class SumOrder {
  kBeforeActivation,  // y = post(op(x) + y)   (conv1d / linear residual paths)
  kAfterActivation,   // y = post(op(x)) + y   (RMVPE ConvBlockRes shortcut)
};
// Appends the activation `post` (nothing for kNone) to po.
void append_post(dnnl::post_ops& po, PostOp post, float alpha);
// Post-op attribute for an epilogue: optional sum (accumulate) and the activation, in `order`.
dnnl::primitive_attr make_attr(bool accumulate, PostOp post, float alpha,
                               SumOrder order = SumOrder::kBeforeActivation);

// Thread-local float scratch buffers, one per slot; grown on demand, never shrunk. A slot must
// not be used by two live callers on one thread at the same time.
enum ScratchSlot {
  kScratchConvT = 0,
  kScratchAttn = 1,
  kScratchAttn2 = 2,
  kScratchConvIn = 3,
  kScratchConvOut = 4,
  kScratchLinIn = 5,
  kScratchLinOut = 6,
  kScratchConvPre = 7,
  kScratchHalfRows = 8,  // HalfPanels::gemm's packed input rows
  kNumScratch = 9
};

// Fast-path primitives are created for a bounded set of lengths: sequences are processed in
// chunks of kChunkFrames output frames, and shorter ones are rounded up to a bucket (at most
// 12.5% extra work), so a model needs a few primitives per layer whatever the input length.
constexpr int64_t kChunkFrames = 4096;
// Long sequences are split into equal chunks (the last one padded up to the same length) rather
// than kChunkFrames-long ones and a short remainder run at full chunk cost.
inline int64_t chunk_length(int64_t n) {
  if (n > kChunkFrames) {
    const int64_t chunks = (n + kChunkFrames - 1) / kChunkFrames;
    n = (n + chunks - 1) / chunks;
  }
  if (n == kChunkFrames) return kChunkFrames;
  int64_t p = 1;
  while (p < n) p <<= 1;
  int64_t g = p / 8 > 8 ? p / 8 : 8;
  return (n + g - 1) / g * g;
}
float* thread_scratch(ScratchSlot slot, size_t n_floats);

// Elementwise activation in place.
void apply_post(float* x, size_t n, PostOp post, float alpha);

}  // namespace rvc::nn::detail
