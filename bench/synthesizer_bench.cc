// Full-size synthesizer (random weights of the real v2 40k / 48k shapes) real-time factor:
// counter "rtf" = seconds of compute per second of audio (upstream PyTorch: 0.70 at 40k, 0.82
// at 48k, 2 threads; ../shared/reference-perf.md). Arguments: frames, threads, sample-rate kHz.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>

#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Shape;
using rvc::Tensor;
using rvc::TensorMap;

struct Gen {
  std::mt19937 rng{42};
  TensorMap m;
  void add(const std::string& name, Shape shape, int64_t fan_in) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(0.f, 1.f / std::sqrt(static_cast<float>(fan_in)));
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
    m[name] = std::move(t);
  }
  void conv(const std::string& p, int64_t out, int64_t in, int64_t k, bool bias = true) {
    add(p + ".weight", {out, in, k}, in * k);
    if (bias) add(p + ".bias", {out}, 100);
  }
};

rvc::models::SynthesizerConfig config_for(int khz) {
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

TensorMap random_weights(const rvc::models::SynthesizerConfig& c) {
  Gen g;
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

void BM_Synthesizer(benchmark::State& st) {
  const int64_t frames = st.range(0);
  rvc::nn::set_num_threads(static_cast<int>(st.range(1)));
  auto cfg = config_for(static_cast<int>(st.range(2)));
  static TensorMap weights40 = random_weights(config_for(40));
  static TensorMap weights48 = random_weights(config_for(48));
  rvc::models::Synthesizer synth(cfg, st.range(2) == 48 ? weights48 : weights40);
  Tensor phone({frames, 768});
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 0.5f);
  for (int64_t i = 0; i < phone.numel(); ++i) phone[i] = d(rng);
  std::vector<int64_t> pitch(frames);
  std::vector<float> pitchf(frames);
  for (int64_t t = 0; t < frames; ++t) {
    pitchf[t] = (t % 50 < 40) ? 150.f + 50.f * std::sin(0.05f * t) : 0.f;
    pitch[t] = pitchf[t] > 0 ? 60 : 1;
  }
  rvc::models::SynthesizerRequest rq;
  rq.phone = &phone;
  rq.pitch = pitch.data();
  rq.pitchf = pitchf.data();
  rq.sid = 0;
  synth.infer(rq);  // warm-up: primitive creation
  for (auto _ : st) {
    auto out = synth.infer(rq);
    benchmark::DoNotOptimize(out.audio.data());
  }
  const double audio_s = static_cast<double>(frames) / 100.0;
  st.counters["rtf"] = benchmark::Counter(
      audio_s, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Synthesizer)
    ->Args({500, 1, 40})
    ->Args({500, 2, 40})
    ->Args({500, 2, 48})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
