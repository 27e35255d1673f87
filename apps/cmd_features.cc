// rvc-rt features IN -o OUT.npy --hubert FILE [--layer N] [--final-proj|--no-final-proj]:
// HuBERT / ContentVec content features of one audio file, written as a [T, C] float32 .npy.
//
// The audio (any format libsndfile reads, mixed to mono) is resampled to 16 kHz. Defaults follow
// upstream RVC (infer/modules/vc/pipeline.py Pipeline.vc): layer 12 without final_proj (v2);
// --layer 9 implies final_proj (v1) unless --no-final-proj is given. Prints one summary line
// (frames, dims, real-time factor). Errors: one line, exit 2 (main.cc's boundary). Inputs over
// 300 s are refused (whole-input attention memory grows with the square of the length).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/formats/npy.h"
#include "rvc/models/hubert.h"
#include "rvc/nn/backend.h"

namespace rvc::app {
namespace {

namespace fmt = rvc::formats;
constexpr int kHubertRateHz = 16000;
// HuBERT attends over the whole input: its score matrix grows with the square of the length
// (10 min = 30000 frames = 3.6 GB). Upstream RVC never feeds it more than ~45 s at once.
constexpr double kMaxSeconds = 300.0;

models::Hubert load_hubert(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail(path, ": no such file (expected a HuBERT checkpoint such as hubert_base.pt)");
  }
  const fmt::Checkpoint ck = fmt::load_checkpoint(path);
  const fmt::DetectedKind kind = fmt::detect_kind(ck);
  switch (kind.kind) {
    case fmt::ModelKind::kHubert:
      break;
    case fmt::ModelKind::kRvcVoice:
      fail(path, " is an RVC voice model, expected a HuBERT checkpoint");
    case fmt::ModelKind::kRmvpe:
      fail(path, " is an RMVPE pitch model, expected a HuBERT checkpoint");
    case fmt::ModelKind::kUnknown:
      fail(path, " is not a HuBERT checkpoint (", kind.reason, ")");
  }
  return models::Hubert(fmt::read_hubert(ck));
}

int run_features(const std::vector<std::string>& args) {
  std::string out, hubert_path;
  int layer = 12, threads = nn::num_threads();
  bool final_proj = false, no_final_proj = false;
  Settings p("features", "IN_AUDIO");
  p.add("output", "OUT.npy", "output features, [frames, dims] float32", &out)
      .alias("-o")
      .cli_only();
  p.add("hubert", "FILE", "HuBERT / ContentVec checkpoint (hubert_base.pt)", &hubert_path);
  p.add("layer", "N", "transformer layer to stop after: 12 (v2, default) or 9 (v1)", &layer)
      .range(1, 1024);
  p.add_flag("final-proj", "apply final_proj (default with --layer 9)", &final_proj);
  p.add_flag("no-final-proj", "do not apply final_proj", &no_final_proj);
  p.add("threads", "N", "compute threads", &threads).range(1, 256);
  if (!p.load(args, environment_without_config())) {
    std::fputs(usage_without_config(p).c_str(), stdout);
    return 0;
  }
  if (p.positional().size() != 1) fail("features: expected one input audio file (see --help)");
  if (out.empty()) fail("features: -o OUT.npy is required");
  if (hubert_path.empty()) fail("features: --hubert FILE is required");
  if (final_proj && no_final_proj) fail("features: --final-proj and --no-final-proj conflict");
  if (layer < 1) fail("features: --layer must be >= 1, got ", layer);
  if (threads < 1) fail("features: --threads must be >= 1, got ", threads);
  nn::set_num_threads(threads);
  const bool apply_proj = final_proj || (!no_final_proj && layer == 9);
  const std::string& in = p.positional()[0];

  const models::Hubert model = load_hubert(hubert_path);
  if (apply_proj && model.hparams().final_dim <= 0) {
    fail(hubert_path, ": has no final_proj (use --no-final-proj)");
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(in, ec)) fail(in, ": no such audio file");
  fmt::Audio audio = with_context(in, [&] { return fmt::read_audio_mono(in); });
  std::vector<float> wav = audio.sample_rate == kHubertRateHz
                               ? std::move(audio.samples)
                               : dsp::resample(audio.samples, audio.sample_rate, kHubertRateHz);
  const int64_t n = static_cast<int64_t>(wav.size());
  if (static_cast<double>(n) > kMaxSeconds * kHubertRateHz) {
    fail(in, ": ", static_cast<double>(n) / kHubertRateHz, " s of audio; features takes at most ",
         kMaxSeconds,
         " s per file (attention memory grows with the square of the length), "
         "split the file");
  }
  if (model.frames(n) <= 0) {
    fail(in, ": ", n, " samples at 16 kHz are too short for one HuBERT frame (need ",
         model.hop_samples(), "+)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Tensor feats = model.forward(wav.data(), n, layer, apply_proj);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::write_npy(out, feats);
  const double audio_s = static_cast<double>(n) / kHubertRateHz;
  std::printf(
      "%s: %lld frames x %lld dims (layer %d%s), %.2f s audio in %.3f s (%.1fx real-time)"
      " -> %s\n",
      in.c_str(), static_cast<long long>(feats.dim(0)), static_cast<long long>(feats.dim(1)), layer,
      apply_proj ? ", final_proj" : "", audio_s, secs, secs > 0 ? audio_s / secs : 0.0,
      out.c_str());
  return 0;
}

const RegisterCommand kRegister("features", "HuBERT content features of an audio file (.npy)",
                                run_features);

}  // namespace
}  // namespace rvc::app
