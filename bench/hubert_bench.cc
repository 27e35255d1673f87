// Full-size HuBERT (random weights of hubert_base.pt's shapes: conv 512, 12 layers x 768,
// 12 heads, FFN 3072) on 10 s of 16 kHz audio, v2 path (output_layer 12), through a reusable
// HubertWorkspace (as a stream calls it). Counters: "rtf" = seconds of compute per second of
// audio (upstream PyTorch: 0.166 at 2 threads, ../shared/reference-perf.md), "GFLOPs" = model
// FLOPs (multiply-adds x 2, counted from the shapes) per second. BM_HubertFull_bf16: the
// opt-in bf16 precision (skipped with a message on CPUs without native bf16).
// Arguments: threads, milliseconds of audio (10000; 660 is a stream block's window at block
// 100 ms, extra 500 ms, crossfade 40 ms, SOLA search 10 ms).
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "full_size_models.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Tensor;

constexpr int kRateHz = 16000;

// FLOPs of one forward to layer 12 on n samples (conv stack, projections, attention, FFN).
double hubert_flops(const rvc::models::Hubert& m, int64_t n) {
  const auto& hp = m.hparams();
  double f = 0;
  int64_t t = n, in = 1;
  for (const auto& l : hp.conv_layers) {
    t = (t - l.kernel) / l.stride + 1;
    f += 2.0 * t * l.channels * in * l.kernel;
    in = l.channels;
  }
  const double e = static_cast<double>(hp.embedding_dim), ffn = static_cast<double>(hp.ffn_dim);
  f += 2.0 * t * in * e;                                      // post_extract_proj
  f += 2.0 * t * e * (e / hp.conv_pos_groups) * hp.conv_pos;  // positional conv
  f += hp.layers * (2.0 * t * (4 * e * e + 2 * e * ffn) +     // projections + FFN
                    4.0 * static_cast<double>(t) * t * e);    // scores + values
  return f;
}

void run(benchmark::State& state, rvc::nn::Precision precision) {
  if (precision == rvc::nn::Precision::kBf16 && !rvc::nn::bf16_supported()) {
    state.SkipWithError("this CPU has no native bf16 (AVX512-BF16)");
    return;
  }
  rvc::nn::set_num_threads(static_cast<int>(state.range(0)));
  static std::unique_ptr<rvc::models::Hubert> models[2];
  auto& model = models[static_cast<int>(precision)];
  if (!model) {
    rvc::nn::set_default_precision(precision);
    model = std::make_unique<rvc::models::Hubert>(rvc::bench::base_info());
    rvc::nn::set_default_precision(rvc::nn::Precision::kF32);
  }
  const int64_t n = state.range(1) * kRateHz / 1000;
  std::vector<float> wav(static_cast<size_t>(n));
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, 0.1f);
  for (float& s : wav) s = d(rng);
  rvc::models::HubertWorkspace ws = model->make_workspace(n);
  model->prepare(ws, n);  // primitives, scratch: one pass on silence
  std::vector<float> out(static_cast<size_t>(model->frames(n) * model->output_dim(false)));
  for (auto _ : state) {
    model->forward(wav.data(), n, 12, false, ws, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["rtf"] = benchmark::Counter(
      static_cast<double>(n) / kRateHz,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["GFLOPs"] = benchmark::Counter(hubert_flops(*model, n) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["loadavg"] = rvc::bench::loadavg_1min();
}

void BM_HubertFull(benchmark::State& state) { run(state, rvc::nn::Precision::kF32); }
void BM_HubertFull_bf16(benchmark::State& state) { run(state, rvc::nn::Precision::kBf16); }

BENCHMARK(BM_HubertFull)
    ->ArgNames({"threads", "ms"})
    ->Args({1, 10000})
    ->Args({2, 10000})
    ->Args({1, 660})
    ->Args({2, 660})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_HubertFull_bf16)
    ->ArgNames({"threads", "ms"})
    ->Args({1, 10000})
    ->Args({2, 10000})
    ->Args({2, 660})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

}  // namespace
