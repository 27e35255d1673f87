// Synthesizer decoder: NSF-HiFiGAN (GeneratorNSF + SourceModuleHnNSF/SineGen) or HiFi-GAN.
#include <cmath>
#include <cstring>

#include "rvc/core/error.h"
#include "rvc/nn/ops.h"
#include "synthesizer_parts.h"

namespace rvc::models::synth {

Decoder::Decoder(const SynthesizerConfig& c, const Weights& w, nn::Backend b) : c_(c) {
  nsf_ = c.f0;
  upp_ = c.samples_per_frame();
  const int64_t c0 = c.upsample_initial_channel;
  nn::Conv1dParams pre{c.inter_channels, c0, 7};
  pre.pad(3);
  conv_pre_ = nn::Conv1d(pre, w.get("dec.conv_pre.weight"), &w.get("dec.conv_pre.bias", {c0}), b);
  if (c.gin_channels > 0) {
    has_cond_ = true;
    cond_ = nn::Linear(w.get("dec.cond.weight", {c0, c.gin_channels, 1}),
                       &w.get("dec.cond.bias", {c0}), nn::Backend::kReference);
  }
  const size_t n_up = c.upsample_rates.size();
  int64_t ch = c0;
  for (size_t i = 0; i < n_up; ++i) {
    const std::string s = std::to_string(i);
    const int64_t u = c.upsample_rates[i], k = c.upsample_kernel_sizes[i];
    nn::ConvTranspose1dParams up{ch, ch / 2, k, u, (k - u) / 2};
    ups_.emplace_back(up, w.weight("dec.ups." + s), &w.get("dec.ups." + s + ".bias", {ch / 2}), b);
    ch /= 2;
    if (nsf_) {
      // ref: models.py GeneratorNSF.__init__ noise_convs
      int64_t stride_f0 = 1;
      for (size_t j = i + 1; j < n_up; ++j) stride_f0 *= c.upsample_rates[j];
      nn::Conv1dParams nc{1, ch, i + 1 < n_up ? 2 * stride_f0 : 1};
      if (i + 1 < n_up) {
        nc.stride = stride_f0;
        nc.pad(stride_f0 / 2);
      }
      noise_convs_.emplace_back(nc, w.get("dec.noise_convs." + s + ".weight"),
                                &w.get("dec.noise_convs." + s + ".bias", {ch}), b);
    }
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j) {
      const std::string r =
          "dec.resblocks." + std::to_string(i * c.resblock_kernel_sizes.size() + j);
      const int64_t kk = c.resblock_kernel_sizes[j];
      const auto& dil = c.resblock_dilation_sizes[j];
      ResBlock rb;
      for (size_t d = 0; d < dil.size(); ++d) {
        const std::string ds = std::to_string(d);
        nn::Conv1dParams p1{ch, ch, kk};
        p1.dilation = dil[d];
        p1.pad((kk * dil[d] - dil[d]) / 2);
        if (c.resblock == "1") {
          p1.post = nn::PostOp::kLeakyRelu;  // the leaky ReLU before convs2[d], fused
          p1.alpha = 0.1f;
          rb.c1.emplace_back(p1, w.weight(r + ".convs1." + ds),
                             &w.get(r + ".convs1." + ds + ".bias"), b);
          nn::Conv1dParams p2{ch, ch, kk};
          p2.pad((kk - 1) / 2);
          rb.c2.emplace_back(p2, w.weight(r + ".convs2." + ds),
                             &w.get(r + ".convs2." + ds + ".bias"), b);
        } else {
          rb.c1.emplace_back(p1, w.weight(r + ".convs." + ds), &w.get(r + ".convs." + ds + ".bias"),
                             b);
        }
      }
      resblocks_.push_back(std::move(rb));
    }
  }
  nn::Conv1dParams post{ch, 1, 7};
  post.pad(3);
  post.post = nn::PostOp::kTanh;
  conv_post_ = nn::Conv1d(post, w.get("dec.conv_post.weight", {1, ch, 7}), nullptr, b);
  if (nsf_) {
    lin_w_ = w.get("dec.m_source.l_linear.weight", {1, 1})[0];
    lin_b_ = w.get("dec.m_source.l_linear.bias", {1})[0];
  }
}

void Decoder::source(const float* f0, int64_t frames, int64_t n_res, std::mt19937_64* rng,
                     Tensor& har) const {
  // ref: models.py SineGen._f02sine / forward (per-frame fmod cumulative phase, harmonic_num=0)
  // and SourceModuleHnNSF.forward.
  const int64_t upp = upp_, n = frames * upp;
  const float sr = static_cast<float>(c_.sample_rate_hz);
  Tensor sine({n, 1});
  double acc = 0.0;     // torch.cumsum accumulates float32 in double on CPU
  float rad_acc = 0.f;  // cumsum(...).fmod(1.0) of the previous frame
  const float two_pi = static_cast<float>(2.0 * M_PI);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t t = 0; t < frames; ++t) {
    const float base = f0[t] / sr;
    const bool voiced = f0[t] > 0.f;
    for (int64_t k = 0; k < upp; ++k) {
      float rad = base * static_cast<float>(k + 1);
      if (t > 0) rad += rad_acc;
      float s = std::sin(two_pi * rad) * 0.1f;
      float v = voiced ? s : 0.f;
      if (rng) {
        float amp = voiced ? 0.003f : 0.1f / 3.f;
        v += amp * normal(*rng);
      }
      sine[t * upp + k] = v;
    }
    float last = base * static_cast<float>(upp);
    float rad2 = std::fmod(last + 0.5f, 1.f) - 0.5f;
    acc += rad2;
    rad_acc = std::fmod(static_cast<float>(acc), 1.f);
  }
  for (int64_t i = 0; i < n; ++i) sine[i] = std::tanh(sine[i] * lin_w_ + lin_b_);
  if (n_res >= 0 && n_res * upp != n) {
    har.resize({n_res * upp, 1});
    nn::interpolate_linear(sine.data(), n, 1, har.data(), n_res * upp);
  } else {
    har = std::move(sine);
  }
}

Tensor Decoder::forward(const Tensor& x_in, const float* f0, const float* g, int64_t n_res,
                        std::mt19937_64* rng) const {
  // ref: models.py GeneratorNSF.forward / Generator.forward
  Tensor har;
  if (nsf_) source(f0, x_in.dim(0), n_res, rng, har);
  const Tensor* xp = &x_in;
  Tensor xi;
  if (n_res >= 0 && n_res != x_in.dim(0)) {
    xi.resize({n_res, x_in.dim(1)});
    nn::interpolate_linear(x_in.data(), x_in.dim(0), x_in.dim(1), xi.data(), n_res);
    xp = &xi;
  }
  Tensor x, y, xs, tmp, a, bb;
  conv_pre_.forward(*xp, x);
  const int64_t c0 = x.dim(1);
  if (has_cond_) {
    Tensor gc({1, c0});
    cond_.forward(g, 1, gc.data());
    for (int64_t t = 0; t < x.dim(0); ++t) {
      for (int64_t ch = 0; ch < c0; ++ch) x[t * c0 + ch] += gc[ch];
    }
  }
  nn::leaky_relu(x.data(), x.data(), static_cast<size_t>(x.numel()), 0.1f);
  const size_t nk = c_.resblock_kernel_sizes.size();
  for (size_t i = 0; i < ups_.size(); ++i) {
    ups_[i].forward(x, y);
    if (nsf_) noise_convs_[i].forward(har, y, /*accumulate=*/true);
    const int64_t t = y.dim(0), ch = y.dim(1);
    const size_t n = static_cast<size_t>(t * ch);
    xs.resize({t, ch});
    a.resize({t, ch});
    bb.resize({t, ch});
    for (size_t j = 0; j < nk; ++j) {
      const ResBlock& rb = resblocks_[i * nk + j];
      Tensor& r = j == 0 ? xs : tmp;
      r.resize({t, ch});
      std::memcpy(r.data(), y.data(), sizeof(float) * n);
      for (size_t d = 0; d < rb.c1.size(); ++d) {
        nn::leaky_relu(r.data(), a.data(), n, 0.1f);
        if (!rb.c2.empty()) {
          rb.c1[d].forward(a.data(), t, bb.data());
          rb.c2[d].forward(bb.data(), t, r.data(), /*accumulate=*/true);
        } else {
          rb.c1[d].forward(a.data(), t, r.data(), /*accumulate=*/true);
        }
      }
      if (j > 0) nn::add(xs.data(), tmp.data(), xs.data(), n);
    }
    // x = xs / num_kernels, then the next leaky ReLU (0.1 between stages, 0.01 before conv_post)
    const float slope = i + 1 < ups_.size() ? 0.1f : 0.01f;
    const float nkf = static_cast<float>(nk);
    x.resize({t, ch});
    for (size_t e = 0; e < n; ++e) {
      float v = xs[static_cast<int64_t>(e)] / nkf;
      x[static_cast<int64_t>(e)] = v < 0.f ? v * slope : v;
    }
  }
  Tensor out;
  conv_post_.forward(x, out);
  out.reshape({out.dim(0)});
  return out;
}

}  // namespace rvc::models::synth
