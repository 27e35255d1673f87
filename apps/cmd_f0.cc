// rvc-rt f0 IN -o OUT.csv [--method rmvpe|yin] [--rmvpe FILE] [--threshold X] [--threads N]:
// the pitch track of one audio file as CSV, one line per 10 ms frame.
//
// The audio (any format libsndfile reads, mixed to mono) is resampled to 16 kHz. Output: a
// header line "time,f0", then "time_s,f0_hz" for frame i at i * 0.01 s (n / 160 + 1 frames for n
// samples at 16 kHz; 0 = unvoiced). --method rmvpe (default) runs the RMVPE model given by
// --rmvpe (upstream RMVPE.infer_from_audio; --threshold is its voicing threshold, default 0.03);
// --method yin runs the classical estimator of dsp/f0.h (no model; --threshold is the YIN
// threshold, default 0.15). Prints one summary line. Errors: one line, exit 2 (main.cc).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/dsp/f0.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/models/rmvpe.h"
#include "rvc/nn/backend.h"

namespace rvc::app {
namespace {

namespace fmt = rvc::formats;
constexpr int kRateHz = 16000;
constexpr int kHop = 160;  // 10 ms at 16 kHz

models::Rmvpe load_rmvpe(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail(path, ": no such file (expected an RMVPE model such as rmvpe.pt)");
  }
  const fmt::Checkpoint ck = with_context(path, [&] { return fmt::load_checkpoint(path); });
  const fmt::DetectedKind kind = fmt::detect_kind(ck);
  switch (kind.kind) {
    case fmt::ModelKind::kRmvpe:
      break;
    case fmt::ModelKind::kRvcVoice:
      fail(path, " is an RVC voice model, expected an RMVPE model");
    case fmt::ModelKind::kHubert:
      fail(path, " is a HuBERT checkpoint, expected an RMVPE model");
    case fmt::ModelKind::kUnknown:
      fail(path, " is not an RMVPE model (", kind.reason, ")");
  }
  return models::Rmvpe(fmt::read_rmvpe(ck));
}

void write_csv(const std::string& path, const std::vector<double>& f0) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
  if (!f) fail(path, ": cannot open for writing");
  std::fputs("time,f0\n", f.get());
  for (size_t i = 0; i < f0.size(); ++i) {
    std::fprintf(f.get(), "%.2f,%.4f\n", static_cast<double>(i) * kHop / kRateHz, f0[i]);
  }
  if (std::ferror(f.get())) fail(path, ": write failed");
}

int run_f0(const std::vector<std::string>& args) {
  std::string out, rmvpe_path, method = "rmvpe";
  double threshold = 0;
  int threads = nn::num_threads();
  Settings p("f0", "IN_AUDIO");
  p.add("output", "OUT.csv", "output CSV: time,f0 per 10 ms frame (0 = unvoiced)", &out)
      .alias("-o")
      .cli_only();
  p.add("method", "rmvpe|yin", "pitch estimator (default rmvpe)", &method);
  p.add("rmvpe", "FILE", "RMVPE model (rmvpe.pt), required for --method rmvpe", &rmvpe_path);
  p.add("threshold", "X", "voicing threshold (rmvpe default 0.03, yin default 0.15)", &threshold);
  p.add("threads", "N", "compute threads", &threads).range(1, 256);
  if (!p.load(args, environment_without_config())) {
    std::fputs(usage_without_config(p).c_str(), stdout);
    return 0;
  }
  if (p.positional().size() != 1) fail("f0: expected one input audio file (see --help)");
  if (out.empty()) fail("f0: -o OUT.csv is required");
  if (method != "rmvpe" && method != "yin") fail("f0: --method must be rmvpe or yin, got ", method);
  if (method == "rmvpe" && rmvpe_path.empty()) {
    fail("f0: --rmvpe FILE is required for --method rmvpe (or use --method yin)");
  }
  if (threads < 1) fail("f0: --threads must be >= 1, got ", threads);
  const bool given_threshold = p.given("threshold");
  if (given_threshold && !(threshold > 0 && threshold < 1)) {
    fail("f0: --threshold must be in (0, 1), got ", threshold);
  }
  nn::set_num_threads(threads);
  const std::string& in = p.positional()[0];

  std::unique_ptr<models::Rmvpe> model;
  if (method == "rmvpe") model = std::make_unique<models::Rmvpe>(load_rmvpe(rmvpe_path));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(in, ec)) fail(in, ": no such audio file");
  fmt::Audio audio = with_context(in, [&] { return fmt::read_audio_mono(in); });
  std::vector<float> wav = audio.sample_rate == kRateHz
                               ? std::move(audio.samples)
                               : dsp::resample(audio.samples, audio.sample_rate, kRateHz);
  const int64_t n = static_cast<int64_t>(wav.size());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<double> f0;
  if (model) {
    // RMVPE's STFT reflect-pads 512 samples on each side, so it needs more than that.
    if (n <= 512) fail(in, ": ", n, " samples at 16 kHz are too short for RMVPE (need 513+)");
    f0 = model->infer_f0(wav.data(), n, given_threshold ? static_cast<float>(threshold) : 0.03f);
  } else {
    dsp::F0Config cfg;
    cfg.sample_rate = kRateHz;
    cfg.hop = kHop;
    if (given_threshold) cfg.threshold = threshold;
    const std::vector<float> track = dsp::estimate_f0(wav.data(), n, cfg);
    f0.assign(track.begin(), track.end());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_csv(out, f0);
  size_t voiced = 0;
  for (double v : f0) voiced += v > 0 ? 1 : 0;
  const double audio_s = static_cast<double>(n) / kRateHz;
  std::printf("%s: %zu frames (%zu voiced, %s), %.2f s audio in %.3f s (%.1fx real-time) -> %s\n",
              in.c_str(), f0.size(), voiced, method.c_str(), audio_s, secs,
              secs > 0 ? audio_s / secs : 0.0, out.c_str());
  return 0;
}

const RegisterCommand kRegister("f0", "pitch track of an audio file (RMVPE or YIN) as CSV", run_f0);

}  // namespace
}  // namespace rvc::app
