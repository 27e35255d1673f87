// Full-size HuBERT (random weights of hubert_base.pt's shapes: conv 512, 12 layers x 768,
// 12 heads, FFN 3072) on 10 s of 16 kHz audio, v2 path (output_layer 12). Counter "rtf" =
// seconds of compute per second of audio (upstream PyTorch: 0.166 at 2 threads,
// ../shared/reference-perf.md). Argument: threads.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "full_size_models.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Tensor;

constexpr int64_t kSeconds = 10;
constexpr int kRateHz = 16000;

void BM_HubertFull(benchmark::State& state) {
  rvc::nn::set_num_threads(static_cast<int>(state.range(0)));
  static const rvc::models::Hubert model(rvc::bench::base_info());
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
