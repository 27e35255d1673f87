#include "rmvpe_layers.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"
#include "rvc/nn/linear.h"

namespace rvc::models::rmvpe_detail {

const Tensor& need_rank(const TensorMap& w, const std::string& key, int rank) {
  const auto it = w.find(key);
  if (it == w.end()) fail("RMVPE: missing tensor '", key, "'");
  if (it->second.ndim() != rank) {
    fail("RMVPE: tensor '", key, "' has shape ", shape_str(it->second.shape()), ", expected ", rank,
         " dims");
  }
  return it->second;
}

const Tensor& need(const TensorMap& w, const std::string& key, const Shape& shape) {
  const auto it = w.find(key);
  if (it == w.end()) fail("RMVPE: missing tensor '", key, "'");
  if (it->second.shape() != shape) {
    fail("RMVPE: tensor '", key, "' has shape ", shape_str(it->second.shape()), ", expected ",
         shape_str(shape));
  }
  return it->second;
}

Conv2d::Conv2d(const std::string& name, const Tensor& weight, const Tensor* bias) {
  if (weight.ndim() != 4 || weight.dim(2) != weight.dim(3) || weight.dim(2) % 2 == 0) {
    fail("RMVPE: conv '", name, "' weight ", shape_str(weight.shape()),
         " is not [out][in][k][k] with odd k");
  }
  cout_ = weight.dim(0);
  cin_ = weight.dim(1);
  k_ = weight.dim(2);
  const int64_t kk = k_ * k_;
  w_.resize(static_cast<size_t>(cout_ * kk * cin_));
  for (int64_t o = 0; o < cout_; ++o) {
    for (int64_t c = 0; c < cin_; ++c) {
      for (int64_t t = 0; t < kk; ++t) {
        w_[static_cast<size_t>((o * kk + t) * cin_ + c)] = weight[(o * cin_ + c) * kk + t];
      }
    }
  }
  bias_.assign(static_cast<size_t>(cout_), 0.0f);
  if (bias) {
    if (bias->numel() != cout_)
      fail("RMVPE: conv '", name, "' bias has ", bias->numel(), " values, expected ", cout_);
    std::copy(bias->data(), bias->data() + cout_, bias_.begin());
  }
}

Map Conv2d::forward(const Map& x) const {
  if (x.c != cin_) fail("RMVPE conv: input has ", x.c, " channels, expected ", cin_);
  Map y(x.h, x.w, cout_);
  const int64_t kk = k_ * k_, half = k_ / 2, kdim = kk * cin_;
  // im2col over blocks of rows bounds the scratch to ~8 MB whatever the input length.
  const int64_t row_floats = x.w * kdim;
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 21) / std::max<int64_t>(row_floats, 1));
  std::vector<float> col(static_cast<size_t>(std::min(block, x.h) * row_floats));
  for (int64_t h0 = 0; h0 < x.h; h0 += block) {
    const int64_t rows = std::min(block, x.h - h0);
    // Every tap is written (zeros at the borders), so the buffer needs no clearing.
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t wi = 0; wi < x.w; ++wi) {
        float* dst = col.data() + (r * x.w + wi) * kdim;
        for (int64_t kh = 0; kh < k_; ++kh) {
          const int64_t hs = h0 + r + kh - half;
          for (int64_t kw = 0; kw < k_; ++kw) {
            const int64_t ws = wi + kw - half;
            float* tap = dst + (kh * k_ + kw) * cin_;
            if (hs < 0 || hs >= x.h || ws < 0 || ws >= x.w) {
              std::fill(tap, tap + cin_, 0.0f);
            } else {
              const float* src = x.data.data() + (hs * x.w + ws) * cin_;
              std::copy(src, src + cin_, tap);
            }
          }
        }
      }
    }
    float* out = y.data.data() + h0 * x.w * cout_;
    for (int64_t i = 0; i < rows * x.w; ++i) std::copy(bias_.begin(), bias_.end(), out + i * cout_);
    nn::gemm(false, true, rows * x.w, cout_, kdim, 1.0f, col.data(), kdim, w_.data(), kdim, 1.0f,
             out, cout_);
  }
  return y;
}

ConvTranspose2dX2::ConvTranspose2dX2(const std::string& name, const Tensor& weight) {
  if (weight.ndim() != 4 || weight.dim(2) != 3 || weight.dim(3) != 3) {
    fail("RMVPE: transposed conv '", name, "' weight ", shape_str(weight.shape()),
         " is not [in][out][3][3]");
  }
  cin_ = weight.dim(0);
  cout_ = weight.dim(1);
  w_.resize(static_cast<size_t>(cin_ * 9 * cout_));
  for (int64_t c = 0; c < cin_; ++c) {
    for (int64_t o = 0; o < cout_; ++o) {
      for (int64_t t = 0; t < 9; ++t) {
        w_[static_cast<size_t>((c * 9 + t) * cout_ + o)] = weight[(c * cout_ + o) * 9 + t];
      }
    }
  }
}

Map ConvTranspose2dX2::forward(const Map& x) const {
  if (x.c != cin_) fail("RMVPE convT: input has ", x.c, " channels, expected ", cin_);
  // out[2i - 1 + kh][2j - 1 + kw] += x[i][j] . W[:, :, kh, kw]; output_padding adds the last
  // row/column, which only the kh = 2 / kw = 2 taps of the last input reach.
  const int64_t n = 9 * cout_;
  std::vector<float> z(static_cast<size_t>(x.h * x.w * n));
  nn::gemm(false, false, x.h * x.w, n, cin_, 1.0f, x.data.data(), cin_, w_.data(), n, 0.0f,
           z.data(), n);
  Map y(2 * x.h, 2 * x.w, cout_);
  for (int64_t i = 0; i < x.h; ++i) {
    for (int64_t j = 0; j < x.w; ++j) {
      const float* zi = z.data() + (i * x.w + j) * n;
      for (int64_t kh = 0; kh < 3; ++kh) {
        const int64_t oh = 2 * i - 1 + kh;
        if (oh < 0 || oh >= y.h) continue;
        for (int64_t kw = 0; kw < 3; ++kw) {
          const int64_t ow = 2 * j - 1 + kw;
          if (ow < 0 || ow >= y.w) continue;
          float* dst = y.data.data() + (oh * y.w + ow) * cout_;
          const float* src = zi + (kh * 3 + kw) * cout_;
          for (int64_t o = 0; o < cout_; ++o) dst[o] += src[o];
        }
      }
    }
  }
  return y;
}

void bn_relu(const nn::BatchNorm& bn, Map& x) {
  if (bn.channels() != x.c) fail("RMVPE: batchnorm of ", bn.channels(), " channels on ", x.c);
  bn.forward(x.data.data(), x.data.data(), x.h * x.w);
  nn::relu(x.data.data(), x.data.data(), x.data.size());
}

Map avg_pool2(const Map& x) {
  Map y(x.h / 2, x.w / 2, x.c);
  for (int64_t i = 0; i < y.h; ++i) {
    for (int64_t j = 0; j < y.w; ++j) {
      const float* a = x.data.data() + ((2 * i) * x.w + 2 * j) * x.c;
      const float* b = a + x.c;
      const float* c = a + x.w * x.c;
      const float* d = c + x.c;
      float* dst = y.data.data() + (i * y.w + j) * x.c;
      for (int64_t ch = 0; ch < x.c; ++ch) dst[ch] = (((a[ch] + b[ch]) + c[ch]) + d[ch]) / 4.0f;
    }
  }
  return y;
}

Map concat_channels(const Map& a, const Map& b) {
  if (a.h != b.h || a.w != b.w) {
    fail("RMVPE: cannot concatenate maps ", a.h, "x", a.w, " and ", b.h, "x", b.w);
  }
  Map y(a.h, a.w, a.c + b.c);
  for (int64_t p = 0; p < a.h * a.w; ++p) {
    float* dst = y.data.data() + p * y.c;
    std::copy(a.data.data() + p * a.c, a.data.data() + (p + 1) * a.c, dst);
    std::copy(b.data.data() + p * b.c, b.data.data() + (p + 1) * b.c, dst + a.c);
  }
  return y;
}

BiGru::BiGru(const TensorMap& w, const std::string& prefix, int64_t layers) {
  if (layers < 1) fail("RMVPE: GRU needs at least one layer");
  const Tensor& ih0 = need_rank(w, prefix + "weight_ih_l0", 2);
  hidden_ = ih0.dim(0) / 3;
  input_ = ih0.dim(1);
  if (hidden_ < 1 || ih0.dim(0) != 3 * hidden_) {
    fail("RMVPE: '", prefix, "weight_ih_l0' rows ", ih0.dim(0), " are not 3 * hidden");
  }
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t in = l == 0 ? input_ : 2 * hidden_;
    for (const char* sfx : {"", "_reverse"}) {
      const std::string s = std::to_string(l) + sfx;
      Dir d;
      d.w_ih = need(w, prefix + "weight_ih_l" + s, {3 * hidden_, in});
      d.w_hh = need(w, prefix + "weight_hh_l" + s, {3 * hidden_, hidden_});
      d.b_ih = need(w, prefix + "bias_ih_l" + s, {3 * hidden_});
      d.b_hh = need(w, prefix + "bias_hh_l" + s, {3 * hidden_});
      (sfx[0] ? bwd_ : fwd_).push_back(std::move(d));
    }
  }
}

namespace {

// Dot product with eight independent partial sums (lets the compiler keep the FMA units busy).
float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

// ref: torch.nn.GRU: r = s(Wir x + bir + Whr h + bhr), z = s(Wiz x + biz + Whz h + bhz),
// n = tanh(Win x + bin + r * (Whn h + bhn)), h = (1 - z) * n + z * h.
void BiGru::run(const Dir& d, const float* x, int64_t t, int64_t in, bool reverse, float* y,
                int64_t y_stride) const {
  const int64_t g = 3 * hidden_;
  std::vector<float> xi(static_cast<size_t>(t * g));
  for (int64_t s = 0; s < t; ++s) std::copy(d.b_ih.data(), d.b_ih.data() + g, xi.data() + s * g);
  nn::gemm(false, true, t, g, in, 1.0f, x, in, d.w_ih.data(), in, 1.0f, xi.data(), g);
  std::vector<float> h(static_cast<size_t>(hidden_), 0.0f), hh(static_cast<size_t>(g));
  for (int64_t step = 0; step < t; ++step) {
    const int64_t s = reverse ? t - 1 - step : step;
    // A plain gemv: a one-row gemm per step would pay a parallel-region start-up each time.
    for (int64_t j = 0; j < g; ++j) {
      hh[j] = d.b_hh[j] + dot(d.w_hh.data() + j * hidden_, h.data(), hidden_);
    }
    const float* gx = xi.data() + s * g;
    for (int64_t k = 0; k < hidden_; ++k) {
      const float r = 1.0f / (1.0f + std::exp(-(gx[k] + hh[k])));
      const float z = 1.0f / (1.0f + std::exp(-(gx[hidden_ + k] + hh[hidden_ + k])));
      const float n = std::tanh(gx[2 * hidden_ + k] + r * hh[2 * hidden_ + k]);
      h[k] = (1.0f - z) * n + z * h[k];
    }
    std::copy(h.begin(), h.end(), y + s * y_stride);
  }
}

std::vector<float> BiGru::forward(const std::vector<float>& x, int64_t t) const {
  std::vector<float> cur = x;
  int64_t in = input_;
  if (static_cast<int64_t>(x.size()) != t * in) fail("RMVPE GRU: input size mismatch");
  for (size_t l = 0; l < fwd_.size(); ++l) {
    std::vector<float> out(static_cast<size_t>(t * 2 * hidden_));
    run(fwd_[l], cur.data(), t, in, false, out.data(), 2 * hidden_);
    run(bwd_[l], cur.data(), t, in, true, out.data() + hidden_, 2 * hidden_);
    cur = std::move(out);
    in = 2 * hidden_;
  }
  return cur;
}

}  // namespace rvc::models::rmvpe_detail
