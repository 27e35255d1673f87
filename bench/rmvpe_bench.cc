// RMVPE at full size (upstream E2E(4, 1, (2, 2)): n_blocks 4, en_de_layers 5, inter_layers 4,
// en_out_channels 16, one bidirectional GRU layer of 256, 360 classes) with random weights of the
// real shapes, on 10 s of 16 kHz audio, at 1 and 2 threads.
// Counters: s_per_audio_s (wall seconds per audio second; upstream PyTorch is 0.0485 at 2
// threads, see ../shared/reference-perf.md), cpu_s_per_audio_s (CPU of the whole process, all
// threads, per audio second) and loadavg (1-minute load average when the run ended, since the
// machine may be shared); first_call_s is the warm-up call (primitive creation included for
// the first benchmark instance only).
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

#include "rvc/models/rmvpe.h"
#include "rvc/nn/backend.h"

namespace {

using rvc::Shape;
using rvc::Tensor;
using rvc::TensorMap;

struct Gen {
  std::mt19937 rng{11};
  TensorMap w;
  void add(const std::string& key, Shape shape, float scale, float offset = 0.f) {
    Tensor t(std::move(shape));
    std::normal_distribution<float> d(0.f, 1.f);
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = offset + scale * d(rng);
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

rvc::formats::RmvpeInfo full_size_info() {
  const int64_t n_blocks = 4, layers = 5, inter = 4, en_out = 16, hidden = 256, classes = 360;
  Gen g;
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

const rvc::models::Rmvpe& model() {
  static const rvc::models::Rmvpe m(full_size_info());
  return m;
}

double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double loadavg_1min() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

// range(0): threads; range(1): 1 = whole infer_f0 (mel + E2E + decode), 0 = E2E only.
void BM_Rmvpe(benchmark::State& st) {
  rvc::nn::set_num_threads(static_cast<int>(st.range(0)));
  const bool whole = st.range(1) != 0;
  constexpr int64_t kSamples = 160000;  // 10 s at 16 kHz
  std::vector<float> audio(kSamples);
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 0.05f);
  for (int64_t i = 0; i < kSamples; ++i) {
    audio[i] = 0.3f * std::sin(2.0 * M_PI * 180.0 * i / 16000.0) + d(rng);
  }
  const rvc::models::Rmvpe& m = model();
  const Tensor mel = m.mel(audio.data(), kSamples);
  // Warm-up: creates the oneDNN primitives (first instance only; later ones hit the caches).
  const auto w0 = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(m.infer_f0(audio.data(), kSamples));
  const double first_call_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double cpu0 = process_cpu_s();
  int64_t iters = 0;
  for (auto _ : st) {
    if (whole) {
      auto f0 = m.infer_f0(audio.data(), kSamples);
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
BENCHMARK(BM_Rmvpe)
    ->ArgNames({"threads", "whole"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({2, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
