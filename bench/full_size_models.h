// bench/full_size_models.h: random weights of the real full-size shapes, for benchmarks.
//
// HuBERT base (conv 512, 12 x 768, 12 heads, FFN 3072), RMVPE E2E(4, 1, (2, 2)) with
// en_de_layers 5, inter_layers 4, en_out_channels 16, BiGRU 256, and the v2 40k / 48k
// synthesizers (configs/v1/40k.json shapes, 768-d phones). The one definition used by
// hubert_bench.cc, rmvpe_bench.cc, synthesizer_bench.cc and pipeline_bench.cc, so no bench needs
// model files; weights are random (fixed seeds, deterministic), so the numbers measure speed only.
// Also the process CPU-time and load-average probes the benches report as counters.
// Every generator returns a fresh copy the caller owns; all functions are thread-compatible.
#pragma once

#include <cstdlib>
#include <string>

#include "rvc/nn/conv1d.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "rvc/core/half.h"
#include "rvc/core/tensor.h"
#include "rvc/formats/model_info.h"
#include "rvc/models/synthesizer.h"

namespace rvc::bench {

using rvc::Shape;
using rvc::Tensor;
using rvc::TensorMap;

struct HubertGen {
  std::mt19937 rng{7};
  rvc::TensorMap m;
  void add(const std::string& name, Shape shape, float std, float mean = 0.f) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(mean, std);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rvc::round_to_half(d(rng));
    m[name] = std::move(t);
  }
  void linear(const std::string& p, int64_t out, int64_t in) {
    add(p + ".weight", {out, in}, 1.f / std::sqrt(static_cast<float>(in)));
    add(p + ".bias", {out}, 0.1f);
  }
  void norm(const std::string& p, int64_t c) {
    add(p + ".weight", {c}, 0.1f, 1.f);
    add(p + ".bias", {c}, 0.1f);
  }
};

inline rvc::formats::HubertInfo base_info() {
  rvc::formats::HubertInfo h;
  h.layers = 12;
  h.embedding_dim = 768;
  h.heads = 12;
  h.ffn_dim = 3072;
  h.final_dim = 256;
  h.conv_layers =
      rvc::formats::parse_conv_feature_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2");
  HubertGen g;
  int64_t in = 1;
  for (size_t i = 0; i < h.conv_layers.size(); ++i) {
    const auto& l = h.conv_layers[i];
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    g.add(p + ".0.weight", {l.channels, in, l.kernel},
          1.f / std::sqrt(static_cast<float>(in * l.kernel)));
    if (i == 0) g.norm(p + ".2", l.channels);
    in = l.channels;
  }
  const int64_t e = h.embedding_dim;
  g.norm("layer_norm", in);
  g.linear("post_extract_proj", e, in);
  g.add("encoder.pos_conv.0.weight_g", {1, 1, h.conv_pos}, 0.1f, 1.f);
  g.add("encoder.pos_conv.0.weight_v", {e, e / h.conv_pos_groups, h.conv_pos}, 1.f);
  g.add("encoder.pos_conv.0.bias", {e}, 0.1f);
  g.norm("encoder.layer_norm", e);
  for (int64_t i = 0; i < h.layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i);
    for (const char* n : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
      g.linear(p + ".self_attn." + n, e, e);
    }
    g.norm(p + ".self_attn_layer_norm", e);
    g.linear(p + ".fc1", h.ffn_dim, e);
    g.linear(p + ".fc2", e, h.ffn_dim);
    g.norm(p + ".final_layer_norm", e);
  }
  g.linear("final_proj", h.final_dim, e);
  h.weights = std::move(g.m);
  return h;
}

struct RmvpeGen {
  std::mt19937 rng{11};
  TensorMap w;
  void add(const std::string& key, Shape shape, float scale, float offset = 0.f) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(0.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rvc::round_to_half(offset + scale * d(rng));
    w[key] = std::move(t);
  }
  void bn(const std::string& p, int64_t c) {
    add(p + ".weight", {c}, 0.1f, 1.f);
    add(p + ".bias", {c}, 0.1f);
    add(p + ".running_mean", {c}, 0.1f);
    add(p + ".running_var", {c}, 0.05f, 1.f);
  }
  void block(const std::string& p, int64_t cin, int64_t cout) {
    const float s = 1.f / std::sqrt(9.f * static_cast<float>(cin));
    add(p + ".conv.0.weight", {cout, cin, 3, 3}, s);
    bn(p + ".conv.1", cout);
    add(p + ".conv.3.weight", {cout, cout, 3, 3}, 1.f / std::sqrt(9.f * static_cast<float>(cout)));
    bn(p + ".conv.4", cout);
    if (cin != cout) {
      add(p + ".shortcut.weight", {cout, cin, 1, 1}, 1.f / std::sqrt(static_cast<float>(cin)));
      add(p + ".shortcut.bias", {cout}, 0.1f);
    }
  }
};

inline rvc::formats::RmvpeInfo full_size_info() {
  const int64_t n_blocks = 4, layers = 5, inter = 4, en_out = 16, hidden = 256, classes = 360;
  RmvpeGen g;
  g.bn("unet.encoder.bn", 1);
  int64_t cin = 1, cout = en_out;
  for (int64_t i = 0; i < layers; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.encoder.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              j == 0 ? cin : cout, cout);
    }
    cin = cout;
    cout *= 2;
  }
  for (int64_t i = 0; i < inter; ++i) {
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block("unet.intermediate.layers." + std::to_string(i) + ".conv." + std::to_string(j),
              (i == 0 && j == 0) ? cout / 2 : cout, cout);
    }
  }
  int64_t ch = cout;
  for (int64_t i = 0; i < layers; ++i) {
    const std::string p = "unet.decoder.layers." + std::to_string(i);
    g.add(p + ".conv1.0.weight", {ch, ch / 2, 3, 3}, 1.f / std::sqrt(9.f * static_cast<float>(ch)));
    g.bn(p + ".conv1.1", ch / 2);
    for (int64_t j = 0; j < n_blocks; ++j) {
      g.block(p + ".conv2." + std::to_string(j), j == 0 ? ch : ch / 2, ch / 2);
    }
    ch /= 2;
  }
  g.add("cnn.weight", {3, en_out, 3, 3}, 0.1f);
  g.add("cnn.bias", {3}, 0.1f);
  for (const char* s : {"0", "0_reverse"}) {
    g.add(std::string("fc.0.gru.weight_ih_l") + s, {3 * hidden, 3 * 128}, 0.05f);
    g.add(std::string("fc.0.gru.weight_hh_l") + s, {3 * hidden, hidden}, 0.06f);
    g.add(std::string("fc.0.gru.bias_ih_l") + s, {3 * hidden}, 0.05f);
    g.add(std::string("fc.0.gru.bias_hh_l") + s, {3 * hidden}, 0.05f);
  }
  g.add("fc.1.weight", {classes, 2 * hidden}, 0.05f);
  g.add("fc.1.bias", {classes}, 0.1f, -4.f);
  rvc::formats::RmvpeInfo info;
  info.n_blocks = n_blocks;
  info.en_de_layers = layers;
  info.inter_layers = inter;
  info.en_out_channels = en_out;
  info.in_channels = 1;
  info.n_gru = 1;
  info.n_mels = 128;
  info.n_classes = classes;
  info.weights = std::move(g.w);
  return info;
}

struct SynthGen {
  std::mt19937 rng{42};
  TensorMap m;
  void add(const std::string& name, Shape shape, int64_t fan_in) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(0.f, 1.f / std::sqrt(static_cast<float>(fan_in)));
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = rvc::round_to_half(d(rng));
    m[name] = std::move(t);
  }
  void conv(const std::string& p, int64_t out, int64_t in, int64_t k, bool bias = true) {
    add(p + ".weight", {out, in, k}, in * k);
    if (bias) add(p + ".bias", {out}, 100);
  }
};

inline rvc::models::SynthesizerConfig config_for(int khz) {
  rvc::models::SynthesizerConfig c;
  c.inter_channels = c.hidden_channels = 192;
  c.filter_channels = 768;
  c.n_heads = 2;
  c.n_layers = 6;
  c.kernel_size = 3;
  c.resblock = "1";
  c.resblock_kernel_sizes = {3, 7, 11};
  c.resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  c.upsample_rates =
      khz == 48 ? std::vector<int64_t>{12, 10, 2, 2} : std::vector<int64_t>{10, 10, 2, 2};
  c.upsample_kernel_sizes =
      khz == 48 ? std::vector<int64_t>{24, 20, 4, 4} : std::vector<int64_t>{16, 16, 4, 4};
  c.upsample_initial_channel = 512;
  c.gin_channels = 256;
  c.sample_rate_hz = khz * 1000;
  c.f0 = true;
  return c;
}

inline TensorMap random_weights(const rvc::models::SynthesizerConfig& c) {
  SynthGen g;
  const int64_t h = c.hidden_channels, in = c.inter_channels;
  g.add("emb_g.weight", {109, c.gin_channels}, 1);
  g.conv("enc_p.emb_phone", h, 768, 1);
  g.m["enc_p.emb_phone.weight"].reshape({h, 768});
  g.add("enc_p.emb_pitch.weight", {256, h}, 1);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    std::string a = "enc_p.encoder.attn_layers." + std::to_string(i) + ".";
    for (const char* n : {"conv_q", "conv_k", "conv_v", "conv_o"}) g.conv(a + n, h, h, 1);
    g.add(a + "emb_rel_k", {1, 21, h / c.n_heads}, h / c.n_heads);
    g.add(a + "emb_rel_v", {1, 21, h / c.n_heads}, h / c.n_heads);
    for (const char* n : {"norm_layers_1.", "norm_layers_2."}) {
      g.add("enc_p.encoder." + std::string(n) + std::to_string(i) + ".gamma", {h}, 1);
      g.add("enc_p.encoder." + std::string(n) + std::to_string(i) + ".beta", {h}, 100);
    }
    std::string f = "enc_p.encoder.ffn_layers." + std::to_string(i) + ".";
    g.conv(f + "conv_1", c.filter_channels, h, c.kernel_size);
    g.conv(f + "conv_2", h, c.filter_channels, c.kernel_size);
  }
  g.conv("enc_p.proj", 2 * in, h, 1);
  for (int fi = 0; fi < 8; fi += 2) {
    std::string p = "flow.flows." + std::to_string(fi) + ".";
    g.conv(p + "pre", h, in / 2, 1);
    g.conv(p + "post", in / 2, h, 1);
    g.conv(p + "enc.cond_layer", 2 * h * 3, c.gin_channels, 1);
    for (int l = 0; l < 3; ++l) {
      g.conv(p + "enc.in_layers." + std::to_string(l), 2 * h, h, 5);
      g.conv(p + "enc.res_skip_layers." + std::to_string(l), l < 2 ? 2 * h : h, h, 1);
    }
  }
  int64_t ch = c.upsample_initial_channel;
  g.conv("dec.conv_pre", ch, in, 7);
  g.conv("dec.cond", ch, c.gin_channels, 1);
  g.add("dec.m_source.l_linear.weight", {1, 1}, 1);
  g.add("dec.m_source.l_linear.bias", {1}, 100);
  const size_t nu = c.upsample_rates.size();
  for (size_t i = 0; i < nu; ++i) {
    std::string s = std::to_string(i);
    int64_t k = c.upsample_kernel_sizes[i];
    g.add("dec.ups." + s + ".weight", {ch, ch / 2, k}, ch * k / c.upsample_rates[i]);
    g.add("dec.ups." + s + ".bias", {ch / 2}, 100);
    ch /= 2;
    int64_t sf = 1;
    for (size_t j = i + 1; j < nu; ++j) sf *= c.upsample_rates[j];
    g.conv("dec.noise_convs." + s, ch, 1, i + 1 < nu ? 2 * sf : 1);
    for (size_t j = 0; j < 3; ++j) {
      std::string r = "dec.resblocks." + std::to_string(i * 3 + j);
      for (int d = 0; d < 3; ++d) {
        g.conv(r + ".convs1." + std::to_string(d), ch, ch, c.resblock_kernel_sizes[j]);
        g.conv(r + ".convs2." + std::to_string(d), ch, ch, c.resblock_kernel_sizes[j]);
      }
    }
  }
  g.conv("dec.conv_post", 1, ch, 7, false);
  return g.m;
}

// CPU seconds of the whole process (all threads) since it started.
inline double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// 1-minute load average from /proc/loadavg; -1 where it cannot be read.
inline double loadavg_1min() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

// RVC_BENCH_CONV_FFT=0 builds models with the direct convolution only (nn::set_conv1d_fft), for
// A/B runs of the DFT convolution path.
inline void conv_algorithm_from_env() {
  const char* e = std::getenv("RVC_BENCH_CONV_FFT");
  rvc::nn::set_conv1d_fft(!(e && std::string(e) == "0"));
  // RVC_BENCH_FFT_SHORT_LIMIT=N: DFT layers run calls below N outputs x taps direct (0: never).
  const char* l = std::getenv("RVC_BENCH_FFT_SHORT_LIMIT");
  rvc::nn::set_conv1d_fft_short_limit(l ? std::atoll(l) : rvc::nn::kConv1dFftShortLimit);
}

}  // namespace rvc::bench
