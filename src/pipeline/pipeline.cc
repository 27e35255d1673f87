// Offline conversion: upstream Pipeline.pipeline / get_f0 / vc on the loaded VoiceModels.
#include "rvc/pipeline/pipeline.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "rvc/core/error.h"
#include "rvc/core/log.h"
#include "rvc/dsp/filters.h"
#include "rvc/dsp/resample.h"
#include "rvc/dsp/rms.h"

namespace rvc::pipeline {

namespace {

constexpr int64_t kWindow = 160;     // Pipeline.window
constexpr int kSr = 16000;           // Pipeline.sr
constexpr int kTf0 = kSr / kWindow;  // F0 frames per second
constexpr int kIndexK = 8;           // index.search(npy, k=8)

class Emitter {
 public:
  explicit Emitter(const Observer& o) : o_(o) {}
  bool on() const { return static_cast<bool>(o_); }
  void f32(const std::string& name, Shape shape, const float* p) const {
    if (on()) o_(Observed{name, std::move(shape), p, nullptr, nullptr});
  }
  void i64(const std::string& name, Shape shape, const int64_t* p) const {
    if (on()) o_(Observed{name, std::move(shape), nullptr, p, nullptr});
  }
  void i16(const std::string& name, Shape shape, const int16_t* p) const {
    if (on()) o_(Observed{name, std::move(shape), nullptr, nullptr, p});
  }

 private:
  const Observer& o_;
};

// get_f0 result over the whole padded audio, already cut to p_len frames.
struct PitchTrack {
  std::vector<int64_t> coarse;  // pitch
  std::vector<float> hz;        // pitchf
};

// ref: infer/modules/vc/pipeline.py Pipeline.get_f0 (after the estimator call): key shift in
// float64, f0_file overrides, mel quantisation; then Pipeline.pipeline's [:p_len] and float32.
PitchTrack finish_f0(std::vector<double> f0, int64_t p_len, const ConvertParams& p) {
  if (static_cast<int64_t>(f0.size()) < p_len) {
    fail("F0 curve has ", f0.size(), " frames but the padded audio needs ", p_len,
         " (one per 10 ms of the input + 2*x_pad s)");
  }
  const double ratio = std::pow(2.0, p.f0_up_key / 12.0);
  for (double& v : f0) v *= ratio;
  if (!p.f0_overrides.empty()) {
    // inp_f0 is float32 upstream; frames 0..delta_t-1 are interpolated at time*100 and written
    // from frame x_pad*100 on (np.interp clamps outside the given times).
    std::vector<double> xs, ys;
    for (const auto& [t, hz] : p.f0_overrides) {
      xs.push_back(static_cast<double>(static_cast<float>(t) * static_cast<float>(kTf0)));
      ys.push_back(static_cast<double>(static_cast<float>(hz)));
    }
    const float span = static_cast<float>(p.f0_overrides.back().first) -
                       static_cast<float>(p.f0_overrides.front().first);
    const int64_t delta_t =
        static_cast<int64_t>(std::nearbyint(span * static_cast<float>(kTf0) + 1.0f));
    const int64_t at = static_cast<int64_t>(p.chunk.x_pad) * kTf0;
    for (int64_t i = 0; i < delta_t && at + i < static_cast<int64_t>(f0.size()); ++i) {
      const double x = static_cast<double>(i);
      double y;
      if (x <= xs.front()) {
        y = ys.front();
      } else if (x >= xs.back()) {
        y = ys.back();
      } else {
        const size_t k =
            static_cast<size_t>(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin());
        const double w = (x - xs[k - 1]) / (xs[k] - xs[k - 1]);
        y = ys[k - 1] + w * (ys[k] - ys[k - 1]);
      }
      f0[static_cast<size_t>(at + i)] = y;
    }
  }
  PitchTrack r;
  r.coarse.resize(static_cast<size_t>(p_len));
  r.hz.resize(static_cast<size_t>(p_len));
  for (int64_t i = 0; i < p_len; ++i) {
    const double v = f0[static_cast<size_t>(i)];
    r.coarse[static_cast<size_t>(i)] = dsp::f0_to_coarse(v);  // from the unrounded float64
    r.hz[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return r;
}

std::vector<double> estimate_f0(const VoiceModels& m, const std::vector<float>& audio_pad,
                                const ConvertParams& p) {
  const int64_t n = static_cast<int64_t>(audio_pad.size());
  switch (p.f0_method) {
    case F0Method::kRmvpe:
      if (!m.has_rmvpe()) {
        fail("f0 method rmvpe needs rmvpe.pt, which was not loaded (or choose yin)");
      }
      return rmvpe_f0(*m.rmvpe(), audio_pad.data(), n, p.rmvpe_threshold, p.rmvpe_window);
    case F0Method::kYin: {
      dsp::F0Config cfg = p.yin;
      cfg.median_radius = 0;  // smoothing follows upstream's harvest rule below
      const std::vector<float> f = dsp::estimate_f0(audio_pad.data(), n, cfg);
      std::vector<double> d(f.begin(), f.end());
      if (p.filter_radius > 2) d = dsp::medfilt(d.data(), static_cast<int64_t>(d.size()), 3);
      return d;
    }
    case F0Method::kCurve:
      return p.f0_curve;
  }
  fail("unknown f0 method");
}

}  // namespace

std::vector<double> rmvpe_f0(const models::Rmvpe& rmvpe, const float* audio16k, int64_t n,
                             float threshold, const RmvpeWindow& w) {
  w.validate();
  if (n <= 512) fail("input: ", n, " samples at 16 kHz are too short for RMVPE (need 513+)");
  if (static_cast<double>(n) <= w.whole_max_s * kSr) {
    return rmvpe.infer_f0(audio16k, n, threshold);  // upstream: one call on all of it
  }
  // Frame f is centred on sample f * 160 (the mel is centred), so a window starting at a multiple
  // of 160 samples gives frames aligned with the whole-input ones. The U-Net pools time by 2 per
  // level, so windows also start on multiples of 2^levels frames: the same pooling grid as the
  // whole call (a shifted grid changes every frame, not only the window edges).
  const int64_t frames = n / kWindow + 1;
  const int64_t grid = int64_t{1} << rmvpe.hparams().en_de_layers;
  auto to_grid = [&](double s) {
    const auto f = static_cast<int64_t>(std::ceil(s * kTf0));
    return std::max<int64_t>(grid, (f + grid - 1) / grid * grid);
  };
  const int64_t core = to_grid(w.core_s), ctx = to_grid(w.context_s);
  std::vector<double> f0(static_cast<size_t>(frames));
  for (int64_t a = 0; a < frames; a += core) {
    const int64_t b = std::min(a + core, frames);
    const int64_t s0 = std::max<int64_t>(a - ctx, 0) * kWindow;
    // The last window reaches the end of the audio, so its last frames see the same edge.
    const int64_t s1 = b + ctx >= frames ? n : (b + ctx) * kWindow;
    const std::vector<double> part = rmvpe.infer_f0(audio16k + s0, s1 - s0, threshold);
    const int64_t first = s0 / kWindow;
    for (int64_t f = a; f < b; ++f) {
      f0[static_cast<size_t>(f)] = part[static_cast<size_t>(f - first)];
    }
  }
  return f0;
}

// One call's workspaces. Both run every call at its own length, exactly as the allocating forms
// (Synthesizer::infer(request), Hubert::forward returning a Tensor) do, so reusing them changes
// no output bit; they only keep the buffers between chunks and calls.
struct Pipeline::Scratch {
  // Made for 1 frame: a call runs with plan_t = max(1, T) = T and its decoder at its own length
  // (a workspace made for the longest chunk would run shorter chunks padded to that length:
  // other primitives, other rounding, and the padding's work). The buffers grow to the longest
  // chunk on first use and are reused from then on.
  std::optional<models::SynthesizerWorkspace> synth;
  // Remade for the longest chunk of a call when it exceeds max_samples(); run() computes at the
  // call's own length whatever the workspace's size.
  models::HubertWorkspace hubert;
};

// At most one idle Scratch, shared by copies of a Pipeline. Holds the models so that the
// workspaces never outlive the networks that made them.
class Pipeline::ScratchCache {
 public:
  explicit ScratchCache(std::shared_ptr<const VoiceModels> models) : models_(std::move(models)) {}
  std::unique_ptr<Scratch> take() {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (idle_) return std::move(idle_);
    }
    return std::make_unique<Scratch>();
  }
  // Keeps s for the next call unless another Scratch is already idle (then s is freed).
  void give(std::unique_ptr<Scratch> s) {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      if (!idle_) idle_ = std::move(s);
    }
    s.reset();  // outside the lock: freeing hundreds of MB takes a while
  }
  std::unique_ptr<Scratch> release() {
    const std::lock_guard<std::mutex> lock(mu_);
    return std::move(idle_);
  }

 private:
  std::shared_ptr<const VoiceModels> models_;
  std::mutex mu_;
  std::unique_ptr<Scratch> idle_;
};

Pipeline::Pipeline(std::shared_ptr<const VoiceModels> models) : models_(std::move(models)) {
  if (!models_) fail("Pipeline: no models given");
  scratch_ = std::make_shared<ScratchCache>(models_);
}

void Pipeline::release_scratch() const { scratch_->release().reset(); }

int Pipeline::output_sample_rate(const ConvertParams& params) const {
  const int tgt = models_->sample_rate_hz();
  return (params.resample_sr >= kSr && params.resample_sr != tgt) ? params.resample_sr : tgt;
}

ConvertResult Pipeline::convert(const float* audio16k, int64_t n, const ConvertParams& params,
                                const ConvertHooks& hooks) const {
  params.validate();
  const VoiceModels& m = *models_;
  const auto& synth = m.synthesizer();
  if (params.sid >= synth.speakers()) {
    fail("sid: ", params.sid, " is not a speaker of ", m.paths().voice, " (it has ",
         synth.speakers(), ": 0..", synth.speakers() - 1, ")");
  }
  if (n < 19) fail("input: ", n, " samples at 16 kHz is too short (need at least 19)");
  if (!audio16k) fail("input: null audio");
  const Emitter emit(hooks.observer);
  auto progress = [&](double f) {
    if (hooks.progress) hooks.progress(std::clamp(f, 0.0, 1.0));
  };

  std::vector<float> audio(audio16k, audio16k + n);
  if (params.normalize_input) {
    normalize_input(audio);
  } else {
    for (float& v : audio) {
      if (!std::isfinite(v)) v = 0.0f;
    }
  }

  // ref: Pipeline.pipeline from here on.
  const std::vector<double> filtered = dsp::filtfilt(dsp::rvc_highpass_16k(), audio.data(), n);
  if (emit.on()) {
    const std::vector<float> f(filtered.begin(), filtered.end());
    emit.f32("audio_filtfilt", {n}, f.data());
  }
  ConvertResult res;
  res.chunks = plan_chunks(filtered, params.chunk);
  const int64_t t_pad = int64_t{kSr} * params.chunk.x_pad;
  const int tgt_sr = m.sample_rate_hz();
  const int64_t t_pad_tgt = int64_t{tgt_sr} * params.chunk.x_pad;

  // HuBERT, RMVPE and YIN all read torch/np float32 copies of the float64 padded audio.
  std::vector<float> pad32;
  {
    const std::vector<double> pad = reflect_pad(filtered, t_pad);
    pad32.assign(pad.begin(), pad.end());
  }
  const int64_t p_len = static_cast<int64_t>(pad32.size()) / kWindow;
  PitchTrack pitch;
  const bool if_f0 = m.has_f0();
  if (if_f0) {
    std::vector<double> f0 = estimate_f0(m, pad32, params);
    if (emit.on()) {
      const std::vector<float> f(f0.begin(), f0.end());
      emit.f32("f0_estimator", {static_cast<int64_t>(f.size())}, f.data());
    }
    pitch = finish_f0(std::move(f0), p_len, params);
  }
  progress(0.05);

  int64_t total_len = 0, max_len = 0;
  for (const int64_t l : res.chunks.lengths) {
    total_len += l;
    max_len = std::max(max_len, l);
  }
  // The workspaces go back to the cache however the call ends.
  struct Lease {
    ScratchCache& cache;
    std::unique_ptr<Scratch> s;
    ~Lease() { cache.give(std::move(s)); }
  } lease{*scratch_, scratch_->take()};
  Scratch& ws = *lease.s;
  if (ws.hubert.max_samples() < max_len) {
    ws.hubert = models::HubertWorkspace();  // free the old buffers before making the new ones
    ws.hubert = m.hubert().make_workspace(max_len);
  }
  if (!ws.synth) ws.synth.emplace(synth.make_workspace(1));
  int64_t done_len = 0;
  std::vector<float> opt;
  const int64_t sid = params.sid;
  for (size_t k = 0; k < res.chunks.starts.size(); ++k) {
    const std::string sfx = "_" + std::to_string(k);
    const int64_t s = res.chunks.starts[k], len = res.chunks.lengths[k];
    const float* audio0 = pad32.data() + s;

    // ref: Pipeline.vc
    emit.f32("hubert_source" + sfx, {1, len}, audio0);
    const int64_t t = m.hubert().frames(len), dim = m.hubert().output_dim(m.hubert_final_proj());
    if (t <= 0) fail("chunk ", k, ": ", len, " samples are too short for one HuBERT frame");
    Tensor feats({t, dim});
    m.hubert().forward(audio0, len, m.hubert_output_layer(), m.hubert_final_proj(), ws.hubert,
                       feats.data());
    emit.f32("hubert_out" + sfx, {1, t, dim}, feats.data());
    const bool protecting = params.protect < 0.5f && if_f0;
    Tensor feats0;
    if (protecting) feats0 = feats;
    if (m.has_index() && params.index_rate != 0.0f) {
      feats = formats::blend_with_index(*m.index(), m.big_npy(), feats, params.index_rate, kIndexK)
                  .blended;
    }
    // F.interpolate(scale_factor=2), nearest: every frame twice. p_len caps the frame count.
    int64_t frames = std::min(2 * t, len / kWindow);
    auto upsample = [&](const Tensor& x) {
      Tensor y({frames, dim});
      for (int64_t i = 0; i < frames; ++i) {
        std::copy_n(x.data() + (i / 2) * dim, dim, y.data() + i * dim);
      }
      return y;
    };
    feats = upsample(feats);
    // Pitch frames of this chunk: pitch[:, s//window : ...][:, :p_len].
    const int64_t f0_at = s / kWindow;
    if (if_f0 && f0_at + frames > p_len) {
      fail("chunk ", k, ": ", frames, " feature frames but only ", p_len - f0_at, " pitch frames");
    }
    const int64_t* chunk_pitch = if_f0 ? pitch.coarse.data() + f0_at : nullptr;
    const float* chunk_pitchf = if_f0 ? pitch.hz.data() + f0_at : nullptr;
    if (protecting) {
      feats0 = upsample(feats0);
      const float protect = params.protect;
      for (int64_t i = 0; i < frames; ++i) {
        // pitchff = 1 where pitchf > 0, then protect where pitchf < 1.
        const float w = chunk_pitchf[i] < 1.0f ? protect : 1.0f;
        const float w0 = 1.0f - w;
        float* f = feats.data() + i * dim;
        const float* f0 = feats0.data() + i * dim;
        for (int64_t c = 0; c < dim; ++c) f[c] = f[c] * w + f0[c] * w0;
      }
    }
    emit.f32("infer_feats" + sfx, {1, frames, dim}, feats.data());
    emit.i64("infer_p_len" + sfx, {1}, &frames);
    if (if_f0) {
      emit.i64("infer_pitch" + sfx, {1, frames}, chunk_pitch);
      emit.f32("infer_pitchf" + sfx, {1, frames}, chunk_pitchf);
    }
    emit.i64("infer_sid" + sfx, {1}, &sid);

    models::SynthesizerRequest rq;
    rq.phone = &feats;
    rq.pitch = chunk_pitch;
    rq.pitchf = chunk_pitchf;
    rq.phone_length = frames;
    rq.sid = sid;
    rq.noise = params.noise;
    rq.seed = params.seed + k;
    const models::SynthesizerResult out = synth.infer(rq, *ws.synth);
    emit.f32("infer_audio" + sfx, {1, 1, out.samples}, out.audio);
    // [t_pad_tgt : -t_pad_tgt] (empty when too short, as a Python slice).
    if (out.samples > 2 * t_pad_tgt) {
      opt.insert(opt.end(), out.audio + t_pad_tgt, out.audio + out.samples - t_pad_tgt);
    }
    done_len += len;
    progress(0.05 + 0.9 * static_cast<double>(done_len) / static_cast<double>(total_len));
  }
  if (opt.empty()) {
    fail("input: ", n, " samples (", n * 1000 / kSr, " ms) at 16 kHz is too short to convert");
  }

  if (params.rms_mix_rate != 1.0) {
    dsp::change_rms(filtered.data(), n, kSr, opt.data(), static_cast<int64_t>(opt.size()), tgt_sr,
                    params.rms_mix_rate);
  }
  emit.f32("audio_after_rms", {static_cast<int64_t>(opt.size())}, opt.data());
  res.sample_rate_hz = output_sample_rate(params);
  if (res.sample_rate_hz != tgt_sr) {
    // ref: Pipeline.pipeline, librosa.resample(audio_opt, orig_sr=tgt_sr, target_sr=resample_sr)
    // with upstream's pinned librosa 0.9.2 + resampy 0.4.2 (requirements.txt): the default
    // res_type is "kaiser_best" (resampy), which dsp::resample_kaiser_best reproduces, length
    // ceil(n * ratio) included. (librosa >= 0.10 would default to soxr_hq instead.)
    opt = dsp::resample_kaiser_best(opt, tgt_sr, res.sample_rate_hz);
  }
  res.pcm16 = to_int16(opt);
  emit.i16("audio_out", {static_cast<int64_t>(res.pcm16.size())}, res.pcm16.data());
  res.audio = std::move(opt);
  progress(1.0);
  return res;
}

}  // namespace rvc::pipeline
