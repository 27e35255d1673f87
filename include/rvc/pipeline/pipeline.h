// rvc/pipeline/pipeline.h: offline RVC conversion, a port of upstream Pipeline.pipeline.
//
// ref: infer/modules/vc/pipeline.py (branch 20240604) Pipeline.pipeline, Pipeline.vc,
// Pipeline.get_f0, change_rms; infer/modules/vc/modules.py VC.vc_single (input normalisation).
//
// Steps of convert(), on mono 16 kHz float audio:
//   [vc_single] audio /= max(1, max|audio|/0.95)   (ConvertParams::normalize_input)
//   audio_filtfilt   48 Hz 5th-order Butterworth high-pass, forward-backward (float64)
//   split            inputs longer than x_max s (after a window/2 reflect pad) are cut every
//                    x_center s at the quietest 10 ms window within +-x_query s
//   audio_pad        reflect pad by t_pad = 16000 * x_pad on both sides
//   F0               estimator on audio_pad (RMVPE, YIN, or a given curve), * 2^(key/12),
//                    optional (time, Hz) overrides, mel-scale coarse pitch 1..255
//   per chunk (vc)   HuBERT (layer 9 + final_proj for v1 models, layer 12 for v2), index
//                    retrieval blend (k=8, weights square(1/d)), x2 nearest upsample, protect
//                    mix, p_len cap, synthesizer, trim t_pad_tgt = tgt_sr * x_pad on both sides
//   concatenation, change_rms (rms_mix_rate != 1), resample (resample_sr), int16 scaling.
//
// Named intermediates, with upstream's names and shapes (time-major [1, T, C] features, which is
// also our memory layout), go to an optional Observer: audio_filtfilt, f0_estimator,
// hubert_source_N, hubert_out_N, infer_feats_N, infer_p_len_N, infer_pitch_N, infer_pitchf_N,
// infer_sid_N, infer_audio_N, audio_after_rms, audio_out (N = chunk index).
//
// Ownership and threads: a Pipeline holds a shared_ptr to immutable VoiceModels; convert() is
// const and may run from several threads at once. It allocates freely (offline use) and throws
// rvc::Error on bad parameters or input.
// Scratch: the synthesizer and HuBERT run through workspaces (models::SynthesizerWorkspace,
// models::HubertWorkspace) that a call takes from the Pipeline and gives back when it ends, so
// every chunk of a call and every later call reuse the same buffers instead of page-faulting
// fresh multi-100-MB activations per chunk. They grow to the largest chunk seen and are kept
// between calls: at most one idle set per Pipeline (a concurrent call makes its own set, dropped
// at its end if one is already idle); release_scratch() frees the idle set. Copies of a
// Pipeline share that set. The output is bit-identical to the models' allocating forms: every
// call runs at its own length (the workspaces are made so that no call runs at a padded plan).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/dsp/f0.h"
#include "rvc/pipeline/voice_models.h"

namespace rvc::pipeline {

// Upstream Config's device-dependent chunking, in seconds (configs/config.py device_config).
// The defaults are upstream's CPU / >= 6 GB GPU values.
struct ChunkConfig {
  int x_pad = 1;      // context padding per chunk side (t_pad = 16000 * x_pad samples)
  int x_query = 6;    // a cut is searched within +-x_query s of its nominal position
  int x_center = 38;  // nominal distance between cuts
  int x_max = 41;     // inputs up to this long are converted in one piece

  // Throws rvc::Error naming the bad field.
  void validate() const;
};

// How RMVPE covers long inputs. Upstream runs it once over the whole padded audio, so its
// memory grows with the input; here padded audio up to whole_max_s seconds (every input upstream
// converts as one chunk, at the default x_max) runs whole, exactly as upstream, and longer audio
// runs in windows of core_s seconds plus context_s seconds of audio on each side whose F0 is
// dropped (the mel edges, the U-Net's padding and the BiGRU's start-up), so RMVPE's memory is
// that of a (core_s + 2 context_s) s call whatever the input length. Windows start on the
// U-Net's pooling grid (2^en_de_layers frames), and each is exactly one standalone call on its
// audio. Not exactly upstream's single call: RMVPE's BiGRU carries state across the whole input,
// so even a window with 20 s of context differs from the whole call on some frames (measured on
// the tiny fixture model: tests/unit/pipeline/pipeline_rmvpe_window_test.cc prints by how much).
struct RmvpeWindow {
  double whole_max_s = 43.0;
  double core_s = 32.0;
  double context_s = 2.0;

  // Throws rvc::Error naming the bad field.
  void validate() const;
};

enum class F0Method {
  kRmvpe,  // the loaded RMVPE model (upstream f0_method="rmvpe")
  kYin,    // dsp::estimate_f0 (classical; median filtered like upstream's harvest branch)
  kCurve,  // ConvertParams::f0_curve: what an estimator returned for the padded audio
};
const char* f0_method_name(F0Method m);
// "rmvpe" | "yin" | "curve"; throws rvc::Error naming the value.
F0Method parse_f0_method(const std::string& s);

// Every knob of one conversion. Defaults are upstream's web UI defaults.
struct ConvertParams {
  int64_t sid = 0;         // speaker id, [0, speakers)
  double f0_up_key = 0.0;  // pitch shift in semitones, [-48, 48]
  F0Method f0_method = F0Method::kRmvpe;
  float rmvpe_threshold = 0.03f;  // RMVPE voicing threshold (upstream thred=0.03)
  RmvpeWindow rmvpe_window;       // long inputs only; see RmvpeWindow
  // kCurve: F0 in Hz per 10 ms frame of the t_pad-padded audio (before the key shift); needs at
  // least (n + 2*t_pad)/160 frames, extra frames are ignored.
  std::vector<double> f0_curve;
  // Upstream f0_file (inp_f0): (seconds, Hz) rows that replace the shifted F0 from x_pad s on,
  // linearly interpolated on the 10 ms grid. Empty = none.
  std::vector<std::pair<double, double>> f0_overrides;
  // kYin settings (sample_rate 16000, hop 160); median_radius is not used: filter_radius
  // decides the smoothing, as upstream's harvest branch.
  dsp::F0Config yin;
  int filter_radius = 3;        // kYin: a 3-tap median filter when > 2 (upstream harvest rule)
  float index_rate = 0.75f;     // [0, 1]; 0 skips the index
  float protect = 0.33f;        // [0, 0.5]; 0.5 = off (upstream: applied only when < 0.5)
  double rms_mix_rate = 0.25;   // [0, 1]; 1 = keep the converted loudness
  int resample_sr = 0;          // 0 = model rate; else >= 16000 Hz
  bool normalize_input = true;  // vc_single's peak normalisation to 0.95
  bool noise = true;            // synthesizer noise (false = upstream with zero noise draws)
  uint64_t seed = 0;            // noise seed (chunk k uses seed + k)
  ChunkConfig chunk;

  // Throws rvc::Error with a one-line message naming the bad field and the accepted range.
  void validate() const;
  // One line, "sid=0 f0_up_key=+3 f0_method=rmvpe ...".
  std::string to_string() const;
};

// One named intermediate: exactly one of f32 / i64 / i16 is set; shape is upstream's.
struct Observed {
  std::string_view name;
  Shape shape;
  const float* f32 = nullptr;
  const int64_t* i64 = nullptr;
  const int16_t* i16 = nullptr;
};
using Observer = std::function<void(const Observed&)>;
// fraction in [0, 1], called between steps from the converting thread.
using Progress = std::function<void(double)>;

struct ConvertHooks {
  Progress progress;
  Observer observer;
};

// Where upstream cut the input: chunk k covers audio_pad[start[k], start[k] + length[k]).
struct ChunkPlan {
  std::vector<int64_t> cuts;     // opt_ts (already floored to the 160-sample window), audio index
  std::vector<int64_t> starts;   // in audio_pad samples
  std::vector<int64_t> lengths;  // in audio_pad samples
};

struct ConvertResult {
  std::vector<float> audio;    // after change_rms and resampling, before int16 scaling
  std::vector<int16_t> pcm16;  // upstream's return value
  int sample_rate_hz = 0;      // rate of audio / pcm16
  ChunkPlan chunks;
};

// Upstream's split search (ref: Pipeline.pipeline, opt_ts) on the high-passed audio, and the
// chunk slices it implies. Pure; exposed for tests and tools.
ChunkPlan plan_chunks(const std::vector<double>& filtered, const ChunkConfig& cfg);

// vc_single's input normalisation: audio /= max|audio|/0.95 when that exceeds 1 (float32
// division, as numpy does on the float32 array). Non-finite samples become 0 first.
void normalize_input(std::vector<float>& audio);

// Upstream's f0_file: text lines "seconds,Hz[,...]" (extra columns ignored), as
// ConvertParams::f0_overrides. Throws rvc::Error naming the file and line of a bad row.
std::vector<std::pair<double, double>> read_f0_file(const std::string& path);

// RMVPE F0 (float64 Hz, n/160 + 1 frames of 10 ms) of 16 kHz audio, whole or in windows as w
// says. n > 512. Throws rvc::Error.
std::vector<double> rmvpe_f0(const models::Rmvpe& rmvpe, const float* audio16k, int64_t n,
                             float threshold, const RmvpeWindow& w = {});

// Mono audio at any rate -> 16 kHz (upstream load_audio resamples with ffmpeg; here libsoxr).
std::vector<float> to_16k(const std::vector<float>& mono, int sample_rate_hz);

// Upstream's final scaling: max|x|/0.99 > 1 -> scale 32768/that, else 32768; truncation.
std::vector<int16_t> to_int16(const std::vector<float>& audio);

// numpy.pad(x, (pad, pad), mode="reflect"), including numpy's repeated reflection when pad
// exceeds n-1. n >= 2 (or pad == 0).
std::vector<double> reflect_pad(const std::vector<double>& x, int64_t pad);

class Pipeline {
 public:
  // models must be non-null.
  explicit Pipeline(std::shared_ptr<const VoiceModels> models);

  const VoiceModels& models() const { return *models_; }
  // Output rate for these params: resample_sr when it applies, else the model's rate.
  int output_sample_rate(const ConvertParams& params) const;

  // audio16k: mono 16 kHz samples (at least 19). Throws rvc::Error on bad params (validate()),
  // a speaker id out of range, F0 method needing an absent model, or too short an input.
  ConvertResult convert(const float* audio16k, int64_t n, const ConvertParams& params,
                        const ConvertHooks& hooks = {}) const;
  ConvertResult convert(const std::vector<float>& audio16k, const ConvertParams& params,
                        const ConvertHooks& hooks = {}) const {
    return convert(audio16k.data(), static_cast<int64_t>(audio16k.size()), params, hooks);
  }

  // Frees the idle workspaces kept for the next call (calls in flight keep theirs).
  void release_scratch() const;

 private:
  struct Scratch;  // one call's workspaces (pipeline.cc)
  class ScratchCache;
  std::shared_ptr<const VoiceModels> models_;
  std::shared_ptr<ScratchCache> scratch_;  // never null
};

}  // namespace rvc::pipeline
