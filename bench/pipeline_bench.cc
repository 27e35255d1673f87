// End-to-end cost of converting 30 s of speech with full-size random-weight models through
// rvc::pipeline::Pipeline::convert, exactly as `rvc-rt convert` runs it: HuBERT base (v2 path,
// layer 12), RMVPE E2E(4,1,(2,2)), an index of 100k x 768 vectors trained as upstream
// (IVF(min(16 sqrt(N), N/39)),Flat, nprobe 1; retrieval k = 8, index_rate 0.75), protect 0.33,
// the v2 40k synthesizer, rms_mix_rate 0.25: upstream's settings in reference-perf.md's memory
// table. The models are built in memory (VoiceModels::from_parts) from bench/full_size_models.h.
//
// Counters: rtf (wall seconds per audio second), x_realtime, x_upstream (upstream's warm 30 s
// call, 27.74 s, divided by ours), per-stage wall seconds from the pipeline's observer (each
// named intermediate closes a stage): filtfilt_s (normalise + high-pass), f0_s (split search,
// reflect pad, RMVPE), hubert_s, feats_s (index search + blend, x2 upsample, protect), synth_s,
// post_s (trim, concatenation, change_rms, resample, int16), other_s (the rest); cpu_s (process
// CPU, all threads), load1 (1-minute load average at the end: the machine is shared),
// rss_models_mb (resident before the call), convert_peak_rss_mb (peak resident during the call,
// models included: VmHWM after a reset through /proc/self/clear_refs; -1 if unsupported) and
// peak_rss_mb (ru_maxrss of the whole process, index training included), minflt_k (minor page
// faults of the timed call, thousands: fresh buffers fault in once per 4 KiB page). Upstream's peak
// for the same call is 4372 MB (../shared/reference-perf.md, "Memory and the 30 s pipeline").
// Argument: threads. RVC_BENCH_INDEX_ROWS overrides the 100k rows and RVC_BENCH_TRAIN_ITERS
// the k-means iterations (faiss default 25) when time is short; RVC_BENCH_SECONDS the 30 s;
// RVC_BENCH_WARMUP=0 skips the untimed warm-up call; RVC_BENCH_INDEX_CACHE=FILE keeps the trained
// index in FILE and loads it from there on later runs.
//
// Run: ninja rvc_bench && OMP_WAIT_POLICY=passive ./bench/rvc_bench --benchmark_filter=Pipeline
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
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "full_size_models.h"
#include "rvc/formats/faiss_index.h"
#include "rvc/models/hubert.h"
#include "rvc/models/rmvpe.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/pipeline.h"
#include "rvc/pipeline/voice_models.h"

namespace {

using Clock = std::chrono::steady_clock;
using rvc::Tensor;
using rvc::bench::loadavg_1min;
using rvc::bench::process_cpu_s;

constexpr int64_t kRate = 16000;
constexpr double kUpstream30s = 27.74;  // reference-perf.md: warm 30 s call, 100k-row index

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
rvc::formats::FeatureIndex full_size_index() {
  return [] {
    const int64_t rows = env_int("RVC_BENCH_INDEX_ROWS", 100000), dim = 768;
    // RVC_BENCH_INDEX_CACHE=FILE: load the index from FILE when it exists (training 100k rows
    // takes about 15 minutes on 2 cores), else train it and keep it there.
    const char* cache = std::getenv("RVC_BENCH_INDEX_CACHE");
    if (cache && *cache && std::ifstream(cache).good()) {
      std::fprintf(stderr, "pipeline_bench: index from %s\n", cache);
      return rvc::formats::FeatureIndex::load(cache);
    }
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
    const bool keep = cache && *cache;
    const std::string path = keep
                                 ? std::string(cache)
                                 : "/tmp/rvc_pipeline_bench_" + std::to_string(getpid()) + ".index";
    faiss::write_index(&ivf, path.c_str());
    auto loaded = rvc::formats::FeatureIndex::load(path);
    if (!keep) std::remove(path.c_str());
    return loaded;
  }();
}

// Resident set now / peak since the last reset, in MB, from /proc/self/status; -1 if absent.
double status_mb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atof(line.c_str() + field.size() + 1) / 1024;
  }
  return -1;
}
// Resets VmHWM to the current RSS (Linux >= 4.0); false where not allowed.
bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

std::shared_ptr<const rvc::pipeline::VoiceModels> full_size_voice() {
  rvc::pipeline::VoiceModelParts parts;
  parts.paths = {"random-v2-40k.pth", "random-hubert-base.pt", "random-rmvpe.pt",
                 "random-100k.index"};
  const auto cfg = rvc::bench::config_for(40);
  parts.info.version = "v2";
  parts.info.has_f0 = true;
  parts.info.sample_rate_hz = cfg.sample_rate_hz;
  parts.info.speakers = 109;
  parts.info.embedding_dim = 768;
  parts.synthesizer =
      std::make_unique<rvc::models::Synthesizer>(cfg, rvc::bench::random_weights(cfg));
  parts.hubert = std::make_unique<rvc::models::Hubert>(rvc::bench::base_info());
  parts.rmvpe = std::make_unique<rvc::models::Rmvpe>(rvc::bench::full_size_info());
  parts.index.emplace(full_size_index());
  return rvc::pipeline::VoiceModels::from_parts(std::move(parts));
}

void BM_PipelineFullSize(benchmark::State& st) {
  rvc::nn::set_num_threads(static_cast<int>(st.range(0)));
  static const auto voice = full_size_voice();
  const rvc::pipeline::Pipeline pipe(voice);
  const int64_t seconds = env_int("RVC_BENCH_SECONDS", 30);
  const std::vector<float> audio = speechlike(seconds * kRate);
  rvc::pipeline::ConvertParams params;  // upstream web UI defaults: rmvpe, index 0.75, ...
  params.seed = 1;

  // Stage of the interval that ends at each named intermediate.
  auto stage_of = [](const std::string& name) -> std::string {
    if (name == "audio_filtfilt") return "filtfilt_s";
    if (name == "f0_estimator") return "f0_s";
    if (name.rfind("hubert_out_", 0) == 0) return "hubert_s";
    if (name.rfind("infer_feats_", 0) == 0) return "feats_s";
    if (name.rfind("infer_audio_", 0) == 0) return "synth_s";
    if (name == "audio_after_rms" || name == "audio_out") return "post_s";
    return "other_s";
  };
  // Upstream's figure is a warm call (after one warm-up); RVC_BENCH_WARMUP=0 times a cold one.
  if (env_int("RVC_BENCH_WARMUP", 1) != 0) benchmark::DoNotOptimize(pipe.convert(audio, params));
  std::map<std::string, double> stage;
  double total = 0, rss_models = 0, convert_peak = -1;
  const double cpu0 = process_cpu_s();
  struct rusage ru0 {};
  getrusage(RUSAGE_SELF, &ru0);
  for (auto _ : st) {
    rss_models = status_mb("VmRSS");
    const bool peak_ok = reset_peak_rss();
    auto last = Clock::now();
    const auto t0 = last;
    rvc::pipeline::ConvertHooks hooks;
    hooks.observer = [&](const rvc::pipeline::Observed& o) {
      const auto now = Clock::now();
      stage[stage_of(std::string(o.name))] += std::chrono::duration<double>(now - last).count();
      last = now;
    };
    const auto r = pipe.convert(audio, params, hooks);
    benchmark::DoNotOptimize(r.pcm16.data());
    stage["other_s"] += secs_since(last);
    total += secs_since(t0);
    if (peak_ok) convert_peak = status_mb("VmHWM");
  }
  const double iters = static_cast<double>(st.iterations());
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double per_call = total / iters;
  st.counters["rtf"] = per_call / static_cast<double>(seconds);
  st.counters["x_realtime"] = static_cast<double>(seconds) / per_call;
  if (seconds == 30) st.counters["x_upstream"] = kUpstream30s / per_call;
  for (const auto& [name, s] : stage) st.counters[name] = s / iters;
  st.counters["cpu_s"] = (process_cpu_s() - cpu0) / iters;
  st.counters["load1"] = loadavg_1min();
  st.counters["rss_models_mb"] = rss_models;
  st.counters["convert_peak_rss_mb"] = convert_peak;
  st.counters["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
  st.counters["minflt_k"] = static_cast<double>(ru.ru_minflt - ru0.ru_minflt) / iters / 1000.0;
}
BENCHMARK(BM_PipelineFullSize)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
