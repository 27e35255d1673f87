// Kernel benchmarks on the shapes of the NSF-HiFiGAN decoder (see ../shared/backend-probe.md).
// Arguments: channels, kernel, dilation, frames, threads. Reports GFLOP/s.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "full_size_models.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/gru.h"
#include "rvc/nn/linear.h"

namespace {

rvc::Tensor random_tensor(rvc::Shape shape, float scale) {
  rvc::Tensor t(std::move(shape));
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = d(rng);
  return t;
}

// Times layer.forward(x, y) after one warm-up call (primitive creation); flops per call feed the
// GFLOP/s counter.
template <class Layer>
void time_forward(benchmark::State& st, const Layer& layer, const rvc::Tensor& x, double flops) {
  rvc::Tensor y;
  layer.forward(x, y);
  for (auto _ : st) {
    layer.forward(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

// Args: channels, kernel, dilation, frames, threads, DFT path allowed (1) or direct only (0).
// GFLOP/s counts the direct convolution's multiply-adds (an effective rate for the DFT path).
void BM_Conv1d(benchmark::State& st) {
  const int64_t c = st.range(0), k = st.range(1), dil = st.range(2), t = st.range(3);
  rvc::nn::set_num_threads(static_cast<int>(st.range(4)));
  rvc::nn::set_conv1d_fft(st.range(5) != 0);
  rvc::nn::Conv1dParams p{c, c, k};
  p.dilation = dil;
  p.pad((k * dil - dil) / 2);
  rvc::Tensor w = random_tensor({c, c, k}, 0.05f), b = random_tensor({c}, 0.1f);
  const rvc::Tensor x = random_tensor({t, c}, 1.f);
  const rvc::nn::Conv1d conv(p, w, &b, rvc::nn::Backend::kFast);
  rvc::nn::set_conv1d_fft(true);
  st.SetLabel(conv.uses_fft() ? "dft" : "direct");
  time_forward(st, conv, x, 2.0 * c * c * k * t);
}
BENCHMARK(BM_Conv1d)
    ->ArgsProduct({{256}, {3, 11}, {1, 5}, {1000}, {1, 2}, {0, 1}})
    // HiFi-GAN (v2 40k) stages: 128 channels x 100 samples per frame, 64 x 200, 32 x 400.
    ->ArgsProduct({{128}, {3, 7, 11}, {3}, {10000}, {1, 2}, {0, 1}})
    ->ArgsProduct({{64}, {3, 7, 11}, {3}, {20000}, {1, 2}, {0, 1}})
    ->ArgsProduct({{32}, {7, 11}, {3}, {40000}, {1, 2}, {0, 1}})
    // The flow's WaveNet layers (v2: 192 channels, 5 taps) on 10 s of frames.
    ->ArgsProduct({{192}, {5}, {1}, {1000}, {1, 2}, {0, 1}})
    ->Args({32, 3, 1, 40000, 1, 1})
    ->Args({32, 3, 1, 40000, 2, 1})
    // A stream block's decoder (return_length 15 frames at 40k): 150, 1500, 3000, 6000 samples.
    ->ArgsProduct({{256}, {3, 11}, {1}, {150}, {2}, {0, 1}})
    ->ArgsProduct({{128}, {3, 11}, {1, 5}, {1500, 900}, {1, 2}, {0, 1}})
    ->ArgsProduct({{256}, {3, 11}, {1, 5}, {150}, {1}, {0, 1}})
    ->ArgsProduct({{64}, {3, 11}, {1}, {3000}, {2}, {0, 1}})
    ->ArgsProduct({{32}, {3, 11}, {1}, {6000}, {2}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

void BM_ConvTranspose1d(benchmark::State& st) {
  const int64_t ci = st.range(0), k = st.range(1), s = st.range(2), t = st.range(3);
  rvc::nn::set_num_threads(static_cast<int>(st.range(4)));
  rvc::nn::ConvTranspose1dParams p{ci, ci / 2, k, s, (k - s) / 2};
  rvc::Tensor w = random_tensor({ci, ci / 2, k}, 0.05f), b = random_tensor({ci / 2}, 0.1f);
  const rvc::Tensor x = random_tensor({t, ci}, 1.f);
  const rvc::nn::ConvTranspose1d ct(p, w, &b, rvc::nn::Backend::kFast);
  time_forward(st, ct, x, 2.0 * ci * (ci / 2) * k * t);
}
BENCHMARK(BM_ConvTranspose1d)
    ->Args({512, 16, 10, 100, 1})
    ->Args({512, 16, 10, 100, 2})
    ->Args({256, 16, 10, 1000, 1})
    ->Args({256, 16, 10, 1000, 2})
    ->Args({64, 4, 2, 20000, 1})
    ->Args({64, 4, 2, 20000, 2})
    ->Unit(benchmark::kMillisecond);

// Linear at a stream block's few rows with cold weights, as HuBERT's layers run them: 24 copies
// of one layer (more bytes than the L3 holds) called in turn; the time is per call. Arguments:
// rows, in, out, threads, half (1: every weight rounded to a half, as in RVC's checkpoints, so
// the half-weight kernel runs up to 64 rows; 0: f32 weights on oneDNN's matmul).
void BM_LinearRows(benchmark::State& st) {
  const int64_t rows = st.range(0), in = st.range(1), out = st.range(2);
  rvc::nn::set_num_threads(static_cast<int>(st.range(3)));
  const bool half = st.range(4) != 0;
  constexpr int kCopies = 24;
  std::vector<rvc::nn::Linear> layers;
  for (int c = 0; c < kCopies; ++c) {
    rvc::Tensor w = random_tensor({out, in}, 0.05f);
    for (int64_t i = 0; i < w.numel(); ++i) {
      w[i] = half ? rvc::round_to_half(w[i] * (1.f + 1e-3f * c)) : w[i] * (1.f + 1e-3f * c);
    }
    layers.emplace_back(w, nullptr, rvc::nn::Backend::kFast);
    if (layers.back().half_weights() != (half && __builtin_cpu_supports("avx512f"))) {
      st.SkipWithError("unexpected weight storage");
      return;
    }
  }
  const rvc::Tensor x = random_tensor({rows, in}, 1.f);
  rvc::Tensor y({rows, out});
  for (const auto& l : layers) l.forward(x.data(), rows, y.data());
  for (auto _ : st) {
    for (const auto& l : layers) l.forward(x.data(), rows, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.SetItemsProcessed(st.iterations() * kCopies);
  st.counters["ms_per_call"] = benchmark::Counter(
      1e-3 * kCopies, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * rows * in * out * kCopies * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LinearRows)
    ->ArgNames({"rows", "in", "out", "threads", "half"})
    ->ArgsProduct({{32}, {768}, {3072, 2304, 768}, {2}, {0, 1}})
    ->ArgsProduct({{32}, {3072}, {768}, {2}, {0, 1}})
    ->ArgsProduct({{8, 64}, {768}, {3072}, {2}, {0, 1}})
    ->ArgsProduct({{32}, {768}, {3072}, {1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Linear (oneDNN matmul with prepacked weights) on HuBERT's shapes: rows, in, out, threads.
void BM_Linear(benchmark::State& st) {
  const int64_t rows = st.range(0), in = st.range(1), out = st.range(2);
  rvc::nn::set_num_threads(static_cast<int>(st.range(3)));
  const rvc::Tensor w = random_tensor({out, in}, 0.05f), b = random_tensor({out}, 0.1f);
  const rvc::Tensor x = random_tensor({rows, in}, 1.f);
  const rvc::nn::Linear lin(w, &b, rvc::nn::Backend::kFast);
  time_forward(st, lin, x, 2.0 * rows * in * out);
}
BENCHMARK(BM_Linear)
    ->ArgsProduct({{499}, {768}, {3072, 2304, 768}, {1, 2}})
    ->Args({499, 3072, 768, 1})
    ->Args({499, 3072, 768, 2})
    ->Args({4096, 768, 3072, 2})
    ->Args({128, 4608, 512, 1})
    ->Args({128, 4608, 512, 2})
    ->Unit(benchmark::kMillisecond);

// Bidirectional one-layer GRU on RMVPE's shape (input 384, hidden 256): frames, threads (at 2
// the directions run side by side). GFLOP/s counts both directions' matrix products.
void BM_Gru(benchmark::State& st) {
  const int64_t t = st.range(0), in = 384, hs = 256;
  rvc::nn::set_num_threads(static_cast<int>(st.range(1)));
  rvc::TensorMap w;
  for (const char* d : {"", "_reverse"}) {
    const std::string s = std::string("0") + d;
    w["weight_ih_l" + s] = random_tensor({3 * hs, in}, 0.05f);
    w["weight_hh_l" + s] = random_tensor({3 * hs, hs}, 0.06f);
    w["bias_ih_l" + s] = random_tensor({3 * hs}, 0.1f);
    w["bias_hh_l" + s] = random_tensor({3 * hs}, 0.1f);
  }
  const rvc::nn::Gru gru(w, "", 1, true, rvc::nn::Backend::kFast);
  const rvc::Tensor x = random_tensor({t, in}, 1.f);
  rvc::Tensor y({t, 2 * hs});
  gru.forward(x.data(), t, y.data());
  for (auto _ : st) {
    gru.forward(x.data(), t, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * 2 * t * 3 * hs * (in + hs),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Gru)->ArgsProduct({{1000, 32}, {1, 2}})->Unit(benchmark::kMillisecond);

}  // namespace
