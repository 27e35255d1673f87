// Full-size synthesizer (random weights of the real v2 40k / 48k shapes) real-time factor:
// counter "rtf" = seconds of compute per second of audio (upstream PyTorch: 0.70 at 40k, 0.82
// at 48k, 2 threads; ../shared/reference-perf.md), "GFLOP/s" = the convolutions' nominal FLOPs
// (transposed convs counted as 2*Cin*Cout*k*Lin) per second. Arguments: frames, threads,
// sample-rate kHz. Runs through a workspace (the allocation-free path Stream uses).
// BM_Synthesizer_bf16: the same with nn::Precision::kBf16 (skipped without native bf16).
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

// Nominal FLOPs per input frame: every conv / transposed conv / 1x1 projection.
double flops_per_frame(const rvc::models::SynthesizerConfig& c) {
  const double h = static_cast<double>(c.hidden_channels),
               f = static_cast<double>(c.filter_channels);
  const double in = static_cast<double>(c.inter_channels);
  double fl =
      2 * 768 * h + c.n_layers * (2 * 4 * h * h + 2 * 2 * h * f * c.kernel_size) + 2 * h * 2 * in;
  fl += 4 * 3 * (2 * h * 2 * h * 5 + 2 * h * 2 * h) + 4 * 2 * (2 * in / 2 * h);  // flow
  double ch = static_cast<double>(c.upsample_initial_channel), len = 1;
  fl += 2 * in * ch * 7;
  for (size_t i = 0; i < c.upsample_rates.size(); ++i) {
    fl += 2 * ch * (ch / 2) * static_cast<double>(c.upsample_kernel_sizes[i]) * len;
    len *= static_cast<double>(c.upsample_rates[i]);
    ch /= 2;
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j) {
      const double k = static_cast<double>(c.resblock_kernel_sizes[j]);
      fl += 2.0 * static_cast<double>(c.resblock_dilation_sizes[j].size()) * 2 * ch * ch * k * len;
    }
  }
  fl += 2 * ch * 7 * len;
  return fl;
}

void run(benchmark::State& st, rvc::nn::Precision precision) {
  const int64_t frames = st.range(0);
  rvc::nn::set_num_threads(static_cast<int>(st.range(1)));
  if (precision == rvc::nn::Precision::kBf16 && !rvc::nn::bf16_supported()) {
    st.SkipWithError("this CPU has no native bf16 (AVX512-BF16)");
    return;
  }
  auto cfg = config_for(static_cast<int>(st.range(2)));
  static TensorMap weights40 = random_weights(config_for(40));
  static TensorMap weights48 = random_weights(config_for(48));
  const rvc::nn::Precision saved = rvc::nn::default_precision();
  rvc::nn::set_default_precision(precision);
  rvc::bench::conv_algorithm_from_env();
  rvc::models::Synthesizer synth(cfg, st.range(2) == 48 ? weights48 : weights40);
  rvc::nn::set_default_precision(saved);
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
  auto ws = synth.make_workspace(frames);  // buffers + primitives (a warm-up call)
  const double cpu0 = rvc::bench::process_cpu_s();
  for (auto _ : st) {
    auto out = synth.infer(rq, ws);
    benchmark::DoNotOptimize(out.audio);
  }
  const double audio_s = static_cast<double>(frames) / 100.0;
  const double iters = static_cast<double>(st.iterations());
  st.counters["rtf"] = benchmark::Counter(
      audio_s, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_frame(cfg) * static_cast<double>(frames) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
  st.counters["cpu_rtf"] = (rvc::bench::process_cpu_s() - cpu0) / iters / audio_s;
  st.counters["load1"] = rvc::bench::loadavg_1min();
}

// The real-time stream's call (src/pipeline/stream_rvc.cc): block 100 ms, extra 500 ms, crossfade
// 40 ms, SOLA search 10 ms: 65 input frames, skip_head 50, return_length 15, through a workspace
// planned as the stream plans it. Arguments: threads, split (0: the decoder's time split off,
// 1: as the workspace chooses). Time: one call (one 100 ms block).
void BM_SynthesizerStream(benchmark::State& st) {
  rvc::nn::set_num_threads(static_cast<int>(st.range(0)));
  static TensorMap weights40 = random_weights(config_for(40));
  rvc::bench::conv_algorithm_from_env();
  rvc::models::Synthesizer synth(config_for(40), weights40);
  constexpr int64_t kFrames = 65, kSkip = 50, kReturn = 15;
  Tensor phone({kFrames, 768});
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 0.5f);
  for (int64_t i = 0; i < phone.numel(); ++i) phone[i] = d(rng);
  std::vector<int64_t> pitch(kFrames, 60);
  std::vector<float> pitchf(kFrames, 160.f);
  rvc::models::SynthesizerRequest rq;
  rq.phone = &phone;
  rq.pitch = pitch.data();
  rq.pitchf = pitchf.data();
  rq.skip_head = kSkip;
  rq.return_length = kReturn;
  rq.return_length2 = kReturn;
  auto ws = synth.make_workspace(kFrames, 2 * kReturn, {kReturn, (kReturn + 1) / 2});
  ws.set_decoder_split(st.range(1) == 2   ? rvc::models::SynthesizerWorkspace::DecoderSplit::kOn
                       : st.range(1) != 0 ? rvc::models::SynthesizerWorkspace::DecoderSplit::kAuto
                                          : rvc::models::SynthesizerWorkspace::DecoderSplit::kOff);
  synth.infer(rq, ws);
  for (auto _ : st) {
    auto out = synth.infer(rq, ws);
    benchmark::DoNotOptimize(out.audio);
  }
  st.counters["load1"] = rvc::bench::loadavg_1min();
}

void BM_Synthesizer(benchmark::State& st) { run(st, rvc::nn::Precision::kF32); }
void BM_Synthesizer_bf16(benchmark::State& st) { run(st, rvc::nn::Precision::kBf16); }

BENCHMARK(BM_Synthesizer)
    ->Args({500, 1, 40})
    ->Args({500, 2, 40})
    ->Args({500, 1, 48})
    ->Args({500, 2, 48})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_SynthesizerStream)
    ->ArgNames({"threads", "split"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({2, 1})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Synthesizer_bf16)
    ->Args({500, 1, 40})
    ->Args({500, 2, 40})
    ->Args({500, 1, 48})
    ->Args({500, 2, 48})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
