// Full-size synthesizer (random weights of the real v2 40k / 48k shapes) real-time factor:
// counter "rtf" = seconds of compute per second of audio (upstream PyTorch: 0.70 at 40k, 0.82
// at 48k, 2 threads; ../shared/reference-perf.md). Arguments: frames, threads, sample-rate kHz.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "full_size_models.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Tensor;
using rvc::TensorMap;
using rvc::bench::config_for;
using rvc::bench::random_weights;

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
