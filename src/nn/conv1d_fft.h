// Private to src/nn: Conv1d through small-tile DFT (overlap-save) convolution.
//
// For a stride-1, ungrouped conv with a kernel of k >= 5 taps the direct product costs k * Cin *
// Cout multiply-adds per output frame. Here the output is cut into tiles of B = N - k + 1 frames
// (N = 32); each tile's N input frames are transformed by a real DFT
// of length N (per channel, vectorised across channels), the N/2 + 1 frequency bins are mixed
// across channels by complex matrix products with Gauss's three real products per complex one
// (k1 = (re + im) Hr, k2 = re (Hi - Hr), k3 = im (Hr + Hi); re' = k1 - k3, im' = k1 + k2): one
// oneDNN batched matmul of 3 x N/2 [tiles x Cin] x [Cin x Cout] products, bins 0 and N/2 sharing
// slot 0, and the inverse DFT gives the B outputs: 1.5 N * Cin * Cout per B frames, e.g. 2.2
// instead of 11 per frame for k = 11. The packed spectra take 1.5 N/k times the direct weights'
// memory.
// Dilation d is handled by polyphase splitting: outputs phi, phi + d, ... form an undilated
// convolution of the input frames phi - pad, phi - pad + d, ...
// The DFT is the exact linear map (no approximation beyond float rounding: error ~1e-6 relative
// to the output scale, like a different summation order).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/conv1d.h"

namespace rvc::nn::detail {

class FftConv1d {
 public:
  // Whether p suits this path: groups 1, stride 1, 5..16 taps and 32+ channels or 3..4 taps
  // and 128+ channels, at most 256x256 channels in multiples of 16 (spectra up to 12 MiB).
  static bool suits(const Conv1dParams& p);
  // weight [out][in][k] (not copied: it must outlive this object and stay where it is; the
  // owning Conv1d keeps it), bias [out].
  FftConv1d(const Conv1dParams& p, const float* weight, const float* bias);
  ~FftConv1d();

  // Multiply-adds per channel pair of a single-threaded call of t_out outputs planned for
  // plan_t_out: 1.5 * N per tile slot of the chunks it runs.
  double work(int64_t t_out, int64_t plan_t_out) const;
  // Creates the matrix-product primitive for t_out output frames (or the chunk it falls in).
  void prepare(int64_t t_out) const;
  // y (t_out rows) = epilogue(conv(x) + bias); x has t_in rows. plan_t_out >= t_out selects the
  // primitive prepared for that length, so shorter calls create nothing.
  void forward(const float* x, int64_t t_in, float* y, int64_t t_out, const ConvEpilogue& ep,
               int64_t plan_t_out) const;

 private:
  struct Entry;
  int64_t tiles(int64_t t_out) const;  // tiles over all phases
  // Tiles per chunk for t_out outputs with nt threads (chunks are whole per thread).
  int64_t chunk_tiles(int64_t t_out, int nt) const;
  // The bin-product primitive for mc tiles, created for `threads` OpenMP threads.
  Entry* entry(int64_t mc, int threads) const;

  Conv1dParams p_;
  int64_t n_ = 0, b_ = 0, slots_ = 0;
  int64_t h0_ = 0, rows_ = 0;      // outputs' circular offset; inverse table rows
  AlignedVector<float> fr_, fi_;   // forward DFT [slot][n]: real and imaginary coefficients
  AlignedVector<float> ir_, ii_;   // inverse [j][slot] (outputs h0_ +- j)
  const float* weight_ = nullptr;  // [out][in][k], the owning Conv1d's
  // The kernel spectra as three [Cin][Cout] matrices per slot (Hi - Hr, Hr + Hi, Hr), to pack
  // for a primitive.
  void spectra(AlignedVector<float>& wmat) const;
  AlignedVector<float> bias_;
  mutable std::mutex mu_;
  mutable std::map<std::tuple<int64_t, int>, std::unique_ptr<Entry>> cache_;
  mutable dnnl::memory packed_;
};

}  // namespace rvc::nn::detail
