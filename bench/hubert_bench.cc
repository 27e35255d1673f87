// Full-size HuBERT (random weights of hubert_base.pt's shapes: conv 512, 12 layers x 768,
// 12 heads, FFN 3072) on 10 s of 16 kHz audio, v2 path (output_layer 12). Counter "rtf" =
// seconds of compute per second of audio (upstream PyTorch: 0.166 at 2 threads,
// ../shared/reference-perf.md). Argument: threads.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "rvc/formats/model_info.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Shape;
using rvc::Tensor;

constexpr int64_t kSeconds = 10;
constexpr int kRateHz = 16000;

struct Gen {
  std::mt19937 rng{7};
  rvc::TensorMap m;
  void add(const std::string& name, Shape shape, float std, float mean = 0.f) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(mean, std);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
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

rvc::formats::HubertInfo base_info() {
  rvc::formats::HubertInfo h;
  h.layers = 12;
  h.embedding_dim = 768;
  h.heads = 12;
  h.ffn_dim = 3072;
  h.final_dim = 256;
  h.conv_layers =
      rvc::formats::parse_conv_feature_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2");
  Gen g;
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

void BM_HubertFull(benchmark::State& state) {
  rvc::nn::set_num_threads(static_cast<int>(state.range(0)));
  static const rvc::models::Hubert model(base_info());
  std::vector<float> wav(static_cast<size_t>(kSeconds * kRateHz));
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 0.1f);
  for (float& s : wav) s = d(rng);
  model.forward(wav.data(), static_cast<int64_t>(wav.size()), 12, false);  // warm-up
  for (auto _ : state) {
    Tensor y = model.forward(wav.data(), static_cast<int64_t>(wav.size()), 12, false);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["rtf"] = benchmark::Counter(
      static_cast<double>(kSeconds),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_HubertFull)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace
