// rvc/nn/gru.h: torch.nn.GRU (batch_first, one sequence, any layer count, uni- or bidirectional).
//
// ref: torch.nn.GRU, gate order (r, z, n):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h,  h_0 = 0.
// Output per frame: [forward h | reverse h] of the last layer (PyTorch's output[0]).
//
// Fast path: the input projection of every frame and both directions is one pre-packed matmul
// (nn::Linear, with b_hr/b_hz folded into its bias); the recurrence is a tight loop of
// hidden-hidden matrix-vector products (W_hh stored transposed, vectorised at run-time ISA),
// the two directions running on two OpenMP threads when num_threads() >= 2.
// Reference: plain loops with double accumulation.
//
// Construction copies the weights; forward() is const and thread-safe. Its scratch
// (O(T * hidden)) is thread-local, grown on first use and kept; after prepare(t) and one call
// of length t on a thread, calls of length <= t there allocate nothing in rvc code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/linear.h"

namespace rvc::nn {

class Gru {
 public:
  Gru();
  // Reads the state-dict tensors "<prefix>weight_ih_l<k>[_reverse]", weight_hh_*, bias_ih_*,
  // bias_hh_* for k < num_layers, e.g. prefix "fc.0.gru.". Sizes come from weight_ih_l0
  // ([3*hidden][input]). Throws rvc::Error naming the first missing or misshapen tensor.
  Gru(const TensorMap& w, const std::string& prefix, int64_t num_layers, bool bidirectional,
      Backend backend = default_backend());
  ~Gru();
  Gru(Gru&&) noexcept;
  Gru& operator=(Gru&&) noexcept;

  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t directions() const { return dirs_; }
  int64_t out_features() const { return dirs_ * hidden_; }
  void prepare(int64_t t) const;
  // x: [t][input_size()], y: [t][out_features()]; x and y must not overlap.
  void forward(const float* x, int64_t t, float* y) const;

 private:
  struct Dir {
    Tensor w_ih, w_hh, b_ih, b_hh;  // PyTorch layouts: [3H][in], [3H][H], [3H], [3H]
    Tensor w_hh_t;                  // fast: [H][3H]
  };
  struct Layer {
    int64_t in = 0;
    std::vector<Dir> dirs;
    Linear proj;  // fast: [dirs*3H][in], bias b_ih (+ b_hh for r, z)
  };
  void run_reference(const Layer& l, const float* x, int64_t t, float* y) const;
  void run_fast(const Layer& l, const float* x, int64_t t, float* y) const;

  int64_t input_ = 0, hidden_ = 0, dirs_ = 1;
  Backend backend_ = Backend::kReference;
  std::vector<Layer> layers_;
};

}  // namespace rvc::nn
