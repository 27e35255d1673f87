// RMVPE at full size (upstream E2E(4, 1, (2, 2)): n_blocks 4, en_de_layers 5, inter_layers 4,
// en_out_channels 16, one bidirectional GRU layer of 256, 360 classes) with random weights of the
// real shapes, on 10 s (and 32 s) of 16 kHz audio, at 1 and 2 threads.
// Counters: s_per_audio_s (wall seconds per audio second; upstream PyTorch is 0.0485 at 2
// threads, see ../shared/reference-perf.md), cpu_s_per_audio_s (CPU of the whole process, all
// threads, per audio second) and loadavg (1-minute load average when the run ended, since the
// machine may be shared); first_call_s is the warm-up call (primitive creation included for
// the first benchmark instance only).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "full_size_models.h"
#include "rvc/models/rmvpe.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Tensor;
using rvc::bench::loadavg_1min;
using rvc::bench::process_cpu_s;

const rvc::models::Rmvpe& model(rvc::nn::Precision precision) {
  static std::unique_ptr<rvc::models::Rmvpe> models[2];
  auto& m = models[static_cast<int>(precision)];
  if (!m) {
    rvc::nn::set_default_precision(precision);
    m = std::make_unique<rvc::models::Rmvpe>(rvc::bench::full_size_info());
    rvc::nn::set_default_precision(rvc::nn::Precision::kF32);
  }
  return *m;
}

// range(0): threads; range(1): 1 = whole infer_f0 (mel + E2E + decode) through a reusable
// RmvpeWorkspace (as a stream calls it), 0 = E2E only (allocating salience()); range(2):
// milliseconds of audio (10 s as upstream's figure; 32 s is the padded 30 s input of the convert
// benchmark; 310 ms is a stream block's F0 window at block 100 ms).
void run(benchmark::State& st, rvc::nn::Precision precision) {
  if (precision == rvc::nn::Precision::kBf16 && !rvc::nn::bf16_supported()) {
    st.SkipWithError("this CPU has no native bf16 (AVX512-BF16)");
    return;
  }
  rvc::nn::set_num_threads(static_cast<int>(st.range(0)));
  const bool whole = st.range(1) != 0;
  const int64_t kSamples = 16 * st.range(2);
  std::vector<float> audio(kSamples);
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 0.05f);
  for (int64_t i = 0; i < kSamples; ++i) {
    audio[i] = 0.3f * std::sin(2.0 * M_PI * 180.0 * i / 16000.0) + d(rng);
  }
  const rvc::models::Rmvpe& m = model(precision);
  const Tensor mel = m.mel(audio.data(), kSamples);
  rvc::models::RmvpeWorkspace ws = m.make_workspace(kSamples);
  std::vector<double> f0(static_cast<size_t>(m.frames(kSamples)));
  // Warm-up: creates the oneDNN primitives (first instance only; later ones hit the caches).
  const auto w0 = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(m.infer_f0(audio.data(), kSamples));
  const double first_call_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  m.prepare(ws, kSamples);
  const double cpu0 = process_cpu_s();
  int64_t iters = 0;
  for (auto _ : st) {
    if (whole) {
      m.infer_f0(audio.data(), kSamples, ws, f0.data());
      benchmark::DoNotOptimize(f0.data());
    } else {
      Tensor s = m.salience(mel);
      benchmark::DoNotOptimize(s.data());
    }
    ++iters;
  }
  const double cpu = process_cpu_s() - cpu0;
  const double audio_s = static_cast<double>(kSamples) / 16000.0;
  st.counters["s_per_audio_s"] = benchmark::Counter(
      audio_s, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["cpu_s_per_audio_s"] = iters > 0 ? cpu / (static_cast<double>(iters) * audio_s) : 0;
  st.counters["loadavg"] = loadavg_1min();
  st.counters["first_call_s"] = first_call_s;
}
void BM_Rmvpe(benchmark::State& st) { run(st, rvc::nn::Precision::kF32); }
void BM_Rmvpe_bf16(benchmark::State& st) { run(st, rvc::nn::Precision::kBf16); }

BENCHMARK(BM_Rmvpe)
    ->ArgNames({"threads", "whole", "ms"})
    ->Args({1, 1, 10000})
    ->Args({2, 1, 10000})
    ->Args({2, 0, 10000})
    ->Args({2, 1, 32000})
    ->Args({1, 1, 310})
    ->Args({2, 1, 310})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_Rmvpe_bf16)
    ->ArgNames({"threads", "whole", "ms"})
    ->Args({1, 1, 10000})
    ->Args({2, 1, 10000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
