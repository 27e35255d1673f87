// End-to-end cost of converting 30 s of speech with full-size random-weight models, stage by
// stage as rvc::pipeline::Pipeline::convert runs them on one chunk (30 s < x_max = 41 s):
// reflect pad by x_pad = 1 s, HuBERT base (v2 path, layer 12), RMVPE E2E(4,1,(2,2)) on the padded
// audio, faiss retrieval (k = 8, 1/d^2 weights, index_rate 0.75) on an index of 100k x 768
// vectors trained as upstream (IVF(min(16 sqrt(N), N/39)),Flat, nprobe 1), x2 feature upsample,
// v2 40k synthesizer. Pipeline itself needs model files (VoiceModels::load), which cannot be
// written here without a torch writer, so the stages are composed directly from the same model
// classes; filtfilt, RMS mixing and int16 scaling are omitted (well under 1% of the time).
//
// Counters: rtf (compute seconds per audio second, wall clock), per-stage seconds, cpu_s
// (process CPU time, all threads), load1 (1-minute load average at the end: the machine is
// shared), peak_rss_mb. Upstream PyTorch on this machine kind: 10 s end to end in 10.4 s
// (../shared/reference-perf.md). Argument: threads. RVC_BENCH_INDEX_ROWS overrides the 100k rows
// and RVC_BENCH_TRAIN_ITERS the k-means iterations (faiss default 25) when time is short.
//
// Run: ninja rvc_bench && ./bench/rvc_bench --benchmark_filter=Pipeline
#include <benchmark/benchmark.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "full_size_models.h"
#include "rvc/formats/faiss_index.h"
#include "rvc/models/hubert.h"
#include "rvc/models/rmvpe.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"

namespace {

using Clock = std::chrono::steady_clock;
using rvc::Tensor;
using rvc::bench::loadavg_1min;
using rvc::bench::process_cpu_s;

constexpr int64_t kSeconds = 30;
constexpr int64_t kRate = 16000;
constexpr int64_t kPad = kRate;  // x_pad = 1 s
constexpr int kTopK = 8;
constexpr float kIndexRate = 0.75f;

double secs_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoll(v) : fallback;
}

// Speech-like test signal: a gliding harmonic voice with syllable envelope and pauses, plus noise.
std::vector<float> speechlike(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 0.01f);
  double phase = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double f0 = 120 + 40 * std::sin(2 * M_PI * 0.3 * t) + 10 * std::sin(2 * M_PI * 5 * t);
    phase += 2 * M_PI * f0 / kRate;
    const double env = std::max(0.0, std::sin(2 * M_PI * 2.1 * t)) * (std::fmod(t, 4.0) < 3.4);
    double v = 0;
    for (int h = 1; h <= 8; ++h) v += std::sin(h * phase) / h;
    x[static_cast<size_t>(i)] = static_cast<float>(0.2 * env * v) + noise(rng);
  }
  return x;
}

// An index like upstream's train_index: IVF(min(16 sqrt(N), N/39)),Flat on N x 768 vectors,
// written and loaded back through rvc::formats::FeatureIndex (the pipeline's path).
const rvc::formats::FeatureIndex& full_size_index() {
  static const rvc::formats::FeatureIndex index = [] {
    const int64_t rows = env_int("RVC_BENCH_INDEX_ROWS", 100000), dim = 768;
    const auto nlist = static_cast<int64_t>(
        std::min(16.0 * std::sqrt(static_cast<double>(rows)), static_cast<double>(rows) / 39));
    std::vector<float> v(static_cast<size_t>(rows * dim));
    std::mt19937 rng(11);
    std::normal_distribution<float> d(0.f, 1.f);
    for (float& x : v) x = d(rng);
    faiss::IndexFlatL2 quantizer(dim);
    faiss::IndexIVFFlat ivf(&quantizer, dim, static_cast<size_t>(nlist));
    ivf.cp.niter = static_cast<int>(env_int("RVC_BENCH_TRAIN_ITERS", ivf.cp.niter));
    const auto t0 = Clock::now();
    // Setup only: Debian's faiss calls the system BLAS for batched distances, and where that is
    // the reference libblas, k-means over 100k x 2564 takes hours; faiss's own SIMD distance
    // loop is used for training and adding instead. The timed search keeps the default.
    const int blas_threshold = faiss::distance_compute_blas_threshold;
    faiss::distance_compute_blas_threshold = 1 << 30;
    ivf.train(rows, v.data());
    for (int64_t i = 0; i < rows; i += 8192) {  // upstream adds in batches of 8192
      ivf.add(std::min<int64_t>(8192, rows - i), v.data() + i * dim);
    }
    faiss::distance_compute_blas_threshold = blas_threshold;
    ivf.nprobe = 1;
    std::fprintf(stderr, "pipeline_bench: index %lld x %lld, nlist %lld, trained in %.1f s\n",
                 static_cast<long long>(rows), static_cast<long long>(dim),
                 static_cast<long long>(nlist), secs_since(t0));
    const std::string path = "/tmp/rvc_pipeline_bench_" + std::to_string(getpid()) + ".index";
    faiss::write_index(&ivf, path.c_str());
    auto loaded = rvc::formats::FeatureIndex::load(path);
    std::remove(path.c_str());
    return loaded;
  }();
  return index;
}

// Upstream's mel-scale coarse pitch (ref: Pipeline.get_f0): 1..255.
int64_t coarse(float f0) {
  const double mel_min = 1127 * std::log(1 + 50.0 / 700),
               mel_max = 1127 * std::log(1 + 1100.0 / 700);
  double m = 1127 * std::log(1 + f0 / 700.0);
  if (m > 0) m = (m - mel_min) * 254 / (mel_max - mel_min) + 1;
  return std::clamp<int64_t>(std::lround(m), 1, 255);
}

void BM_PipelineFullSize(benchmark::State& st) {
  rvc::nn::set_num_threads(static_cast<int>(st.range(0)));
  static const rvc::models::Hubert hubert(rvc::bench::base_info());
  static const rvc::models::Rmvpe rmvpe(rvc::bench::full_size_info());
  static const auto synth_cfg = rvc::bench::config_for(40);
  static const rvc::models::Synthesizer synth(synth_cfg, rvc::bench::random_weights(synth_cfg));
  const rvc::formats::FeatureIndex& index = full_size_index();
  static const Tensor big_npy = index.reconstruct_all();

  const std::vector<float> audio = speechlike(kSeconds * kRate);
  std::vector<float> pad(audio.size() + 2 * kPad);
  const auto n = static_cast<int64_t>(audio.size());
  for (int64_t i = 0; i < static_cast<int64_t>(pad.size()); ++i) {
    int64_t j = i - kPad;
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
    pad[static_cast<size_t>(i)] = audio[static_cast<size_t>(j)];
  }
  const auto np = static_cast<int64_t>(pad.size());
  double t_hubert = 0, t_f0 = 0, t_index = 0, t_synth = 0;
  const double cpu0 = process_cpu_s();
  for (auto _ : st) {
    auto t0 = Clock::now();
    Tensor feats = hubert.forward(pad.data(), np, 12, false);  // [T, 768]
    t_hubert += secs_since(t0);

    t0 = Clock::now();
    const std::vector<double> f0 = rmvpe.infer_f0(pad.data(), np, 0.03f);
    t_f0 += secs_since(t0);

    t0 = Clock::now();
    const int64_t frames = feats.shape()[0], dim = feats.shape()[1];
    const auto res = index.search(feats.data(), frames, kTopK);
    for (int64_t t = 0; t < frames; ++t) {
      float w[kTopK], wsum = 0;
      for (int k = 0; k < kTopK; ++k) {
        const float dk = res.distances[static_cast<size_t>(t * kTopK + k)];
        w[k] = res.labels[static_cast<size_t>(t * kTopK + k)] < 0 ? 0.f : 1.f / (dk * dk + 1e-12f);
        wsum += w[k];
      }
      float* row = feats.data() + t * dim;
      for (int64_t c = 0; c < dim; ++c) {
        float acc = 0;
        for (int k = 0; k < kTopK; ++k) {
          const int64_t lab = res.labels[static_cast<size_t>(t * kTopK + k)];
          if (lab >= 0) acc += w[k] / wsum * big_npy.data()[lab * dim + c];
        }
        row[c] = kIndexRate * acc + (1 - kIndexRate) * row[c];
      }
    }
    t_index += secs_since(t0);

    t0 = Clock::now();
    const int64_t p_len = std::min(2 * frames, np / 160);
    Tensor phone({p_len, dim});
    for (int64_t t = 0; t < p_len; ++t) {
      std::copy_n(feats.data() + (t / 2) * dim, dim, phone.data() + t * dim);
    }
    std::vector<float> pitchf(static_cast<size_t>(p_len));
    std::vector<int64_t> pitch(static_cast<size_t>(p_len));
    for (int64_t t = 0; t < p_len; ++t) {
      pitchf[static_cast<size_t>(t)] =
          static_cast<float>(f0[std::min<size_t>(static_cast<size_t>(t), f0.size() - 1)]);
      pitch[static_cast<size_t>(t)] = coarse(pitchf[static_cast<size_t>(t)]);
    }
    rvc::models::SynthesizerRequest rq;
    rq.phone = &phone;
    rq.pitch = pitch.data();
    rq.pitchf = pitchf.data();
    rq.noise = true;
    auto out = synth.infer(rq);
    benchmark::DoNotOptimize(out.audio.data());
    t_synth += secs_since(t0);
  }
  const double iters = static_cast<double>(st.iterations());
  const double total = (t_hubert + t_f0 + t_index + t_synth) / iters;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  st.counters["rtf"] = total / kSeconds;
  st.counters["x_realtime"] = kSeconds / total;
  st.counters["hubert_s"] = t_hubert / iters;
  st.counters["rmvpe_s"] = t_f0 / iters;
  st.counters["index_s"] = t_index / iters;
  st.counters["synth_s"] = t_synth / iters;
  st.counters["cpu_s"] = (process_cpu_s() - cpu0) / iters;
  st.counters["load1"] = loadavg_1min();
  st.counters["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
}
BENCHMARK(BM_PipelineFullSize)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
