// Private helpers for the oneDNN fast paths of rvc::nn (not a public header).
#pragma once

#include <omp.h>

#include <cstddef>
#include <oneapi/dnnl/dnnl.hpp>

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
  kNumScratch = 7
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
