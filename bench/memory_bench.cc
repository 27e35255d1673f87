// Peak memory of the full-size models (v2 40k synthesizer + HuBERT base + RMVPE, random weights
// of the real shapes): resident set after loading all three, and the process peak after one 10 s
// conversion-sized pass of each (HuBERT and RMVPE on 10 s of 16 kHz audio, the synthesizer on
// 1000 frames = 10 s at 40 kHz). Run it alone, in a fresh process, so that the peak is its own:
//   OMP_WAIT_POLICY=passive build/bench/rvc_bench --benchmark_filter=BM_PeakMemory
// Upstream (../shared/reference-perf.md, "Memory and the 30 s pipeline"): 1437 MB resident after
// loading the same three models, 2399 MB peak for loading + one cold 10 s Pipeline.pipeline.
// Counters in MB: rss_loaded_mb (VmRSS after loading, the generated weight maps freed),
// rss_after_passes_mb (the largest VmRSS sampled right after each pass), peak_mb (VmHWM: the
// process peak, which also covers generating the random weights).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "full_size_models.h"
#include "rvc/models/hubert.h"
#include "rvc/models/rmvpe.h"
#include "rvc/models/synthesizer.h"

namespace {

// VmRSS or VmHWM of this process in MB, from /proc/self/status (0 when unreadable).
double proc_status_mb(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  const size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') kb = std::atof(line + n + 1);
  }
  std::fclose(f);
  return kb / 1024.0;
}

void BM_PeakMemory(benchmark::State& st) {
  using namespace rvc;
  for (auto _ : st) {
    auto synth = [] {
      const auto cfg = bench::config_for(40);
      TensorMap w = bench::random_weights(cfg);
      return std::make_unique<models::Synthesizer>(cfg, w);
    }();
    auto hubert = std::make_unique<models::Hubert>(bench::base_info());
    auto rmvpe = std::make_unique<models::Rmvpe>(bench::full_size_info());
    const double loaded = proc_status_mb("VmRSS");
    constexpr int64_t kSamples = 160000;
    std::vector<float> wav(kSamples);
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.1f);
    for (float& s : wav) s = d(rng);
    double during = loaded;
    {
      Tensor feats = hubert->forward(wav.data(), kSamples, 12, false);
      benchmark::DoNotOptimize(feats.data());
      during = std::max(during, proc_status_mb("VmRSS"));
    }
    {
      auto f0 = rmvpe->infer_f0(wav.data(), kSamples);
      benchmark::DoNotOptimize(f0.data());
      during = std::max(during, proc_status_mb("VmRSS"));
    }
    {
      constexpr int64_t kFrames = 1000;
      Tensor phone({kFrames, 768});
      for (int64_t i = 0; i < phone.numel(); ++i) phone[i] = d(rng);
      std::vector<int64_t> pitch(kFrames, 60);
      std::vector<float> pitchf(kFrames, 180.f);
      models::SynthesizerRequest rq;
      rq.phone = &phone;
      rq.pitch = pitch.data();
      rq.pitchf = pitchf.data();
      rq.sid = 0;
      auto out = synth->infer(rq);
      benchmark::DoNotOptimize(out.audio.data());
      during = std::max(during, proc_status_mb("VmRSS"));
    }
    st.counters["rss_loaded_mb"] = loaded;
    st.counters["rss_after_passes_mb"] = during;
    st.counters["peak_mb"] = proc_status_mb("VmHWM");
    st.counters["upstream_loaded_mb"] = 1437;
    st.counters["upstream_10s_peak_mb"] = 2399;
  }
}
BENCHMARK(BM_PeakMemory)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
