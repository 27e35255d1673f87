// src/models/rmvpe_layers.h (private): the 2-D conv, pooling and GRU pieces RMVPE needs.
//
// Layout: feature maps are [H][W][C] row-major floats (nn layer convention: channels last); for
// RMVPE H is time and W is the mel axis. Weights are handed over in PyTorch layouts and
// repacked once. Matrix products go through rvc::nn::gemm, so they follow the nn backend
// setting. Each forward() is const and thread-safe; it allocates its scratch per call (RMVPE runs
// on a worker thread, never inside an audio callback).
// These stand in until the nn layer grows Conv2d / GRU; they are small on purpose.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/ops.h"

namespace rvc::models::rmvpe_detail {

struct Map {  // one [H][W][C] feature map
  int64_t h = 0, w = 0, c = 0;
  std::vector<float> data;
  Map() = default;
  Map(int64_t h_, int64_t w_, int64_t c_)
      : h(h_), w(w_), c(c_), data(static_cast<size_t>(h_ * w_ * c_), 0.0f) {}
};

// torch.nn.Conv2d, stride 1, "same" zero padding (k odd), optional bias; weight [out][in][k][k].
class Conv2d {
 public:
  Conv2d() = default;
  Conv2d(const std::string& name, const Tensor& weight, const Tensor* bias);
  int64_t in_channels() const { return cin_; }
  int64_t out_channels() const { return cout_; }
  Map forward(const Map& x) const;

 private:
  int64_t cin_ = 0, cout_ = 0, k_ = 0;
  std::vector<float> w_;  // [out][(kh*k + kw)*in + c]
  std::vector<float> bias_;
};

// torch.nn.ConvTranspose2d(k=3, stride 2, padding 1, output_padding 1, no bias): H,W -> 2H,2W.
// weight [in][out][3][3].
class ConvTranspose2dX2 {
 public:
  ConvTranspose2dX2() = default;
  ConvTranspose2dX2(const std::string& name, const Tensor& weight);
  int64_t out_channels() const { return cout_; }
  Map forward(const Map& x) const;

 private:
  int64_t cin_ = 0, cout_ = 0;
  std::vector<float> w_;  // [in][(kh*3 + kw)*out + o]
};

// In place: y = relu(batchnorm(y)).
void bn_relu(const nn::BatchNorm& bn, Map& x);
// torch.nn.AvgPool2d(2): floor sizes, (a+b+c+d)/4.
Map avg_pool2(const Map& x);
// torch.cat along channels.
Map concat_channels(const Map& a, const Map& b);

// Bidirectional multi-layer torch.nn.GRU (batch_first), returns [T][2*hidden] of the last layer.
class BiGru {
 public:
  BiGru() = default;
  // prefix "fc.0.gru."; reads weight_ih_l{k}[_reverse] etc. for k < layers.
  BiGru(const TensorMap& w, const std::string& prefix, int64_t layers);
  int64_t input_size() const { return input_; }
  int64_t hidden_size() const { return hidden_; }
  std::vector<float> forward(const std::vector<float>& x, int64_t t) const;

 private:
  struct Dir {
    Tensor w_ih, w_hh, b_ih, b_hh;  // [3H][in], [3H][H], [3H], [3H] (gate order r, z, n)
  };
  void run(const Dir& d, const float* x, int64_t t, int64_t in, bool reverse, float* y,
           int64_t y_stride) const;
  int64_t input_ = 0, hidden_ = 0;
  std::vector<Dir> fwd_, bwd_;
};

// Looks up a tensor and checks its shape; throws rvc::Error naming the key otherwise.
const Tensor& need(const TensorMap& w, const std::string& key, const Shape& shape);
const Tensor& need_rank(const TensorMap& w, const std::string& key, int rank);

}  // namespace rvc::models::rmvpe_detail
