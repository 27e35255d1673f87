// The RVC model voice as a Stream backend: upstream's realtime inference, block by block.
// ref: infer/lib/rtrvc.py (branch 20240604), RVC.infer; gui_v1.py, GUI.audio_infer.
//
// Per block: the newest input is resampled to 16 kHz (streaming) into a sliding 16 kHz window
// of extra + crossfade + search + block; HuBERT runs over the whole window (its conv feature
// extractor beside the F0 estimate, one thread each, then its transformer); the index blend
// covers the new part (from skip_head); F0 is estimated on the newest block + 50 ms and kept in
// a pitch cache; the synthesizer renders only the last return_length frames (skip_head /
// return_length / return_length2 for the formant shift); the model-rate audio is resampled to
// the device rate and, with rms_mix < 1, given the input's loudness envelope.
// Pipelined (StreamGeometry::pipeline), a call computes its block's features (resampling,
// HuBERT, F0, index blend: a Slot) on one thread while the other synthesizes the Slot the
// previous call filled, and returns that: each half runs on one core, so a block costs about the
// slower half instead of the whole on two cores (which scale worse: about 1.2x over one), and
// the output is one block later (pipeline_frames()).
// Real-time safe after prepare(): every model runs through its workspace API, the index blend and
// F0 write into scratch, and the per-block resampling uses preallocated polyphase tables, so
// infer() allocates, locks and logs nothing (tests/unit/pipeline/stream_rvc_alloc_test.cc counts
// it). Caveats: oneDNN's own execute keeps a few small heap nodes per primitive call; the first
// block on a thread other than the one that built the stream creates that thread's scratch once
// (scratch used inside dynamically scheduled OpenMP loops lives in the workspaces instead);
// a formant change rebuilds the formant resampler's table in place (compute, no allocation).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/f0.h"
#include "rvc/dsp/resample.h"
#include "rvc/nn/assist.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/stream.h"
#include "rvc/pipeline/voice_models.h"

namespace rvc::pipeline {
namespace {

// librosa.feature.rms(frame_length=4*hop, hop_length=hop, center=True, zero padding), linearly
// interpolated to one value per sample (align_corners, n+1 points, last dropped).
// ref: gui_v1.py, audio_infer (rms_mix_rate branch)
void rms_envelope(const float* x, int64_t n, int64_t hop, std::vector<double>* frames,
                  std::vector<float>* out) {
  const int64_t nf = 1 + n / hop;
  frames->assign(static_cast<size_t>(nf), 0.0);
  for (int64_t j = 0; j < nf; ++j) {
    double s = 0.0;
    for (int64_t i = j * hop - 2 * hop; i < j * hop + 2 * hop; ++i) {
      if (i >= 0 && i < n) s += static_cast<double>(x[i]) * x[i];
    }
    (*frames)[static_cast<size_t>(j)] = std::sqrt(s / static_cast<double>(4 * hop));
  }
  out->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double pos =
        static_cast<double>(i) * static_cast<double>(nf - 1) / static_cast<double>(n);
    const int64_t a = std::min<int64_t>(static_cast<int64_t>(pos), nf - 1);
    const int64_t b = std::min<int64_t>(a + 1, nf - 1);
    const double t = pos - static_cast<double>(a);
    (*out)[static_cast<size_t>(i)] = static_cast<float>(
        (*frames)[static_cast<size_t>(a)] * (1 - t) + (*frames)[static_cast<size_t>(b)] * t);
  }
}

class RvcBackend final : public VoiceBackend {
 public:
  RvcBackend(std::shared_ptr<const VoiceModels> models, int64_t sid)
      : m_(std::move(models)), sid_(sid) {
    if (!m_) fail("RVC backend: no models given");
  }
  std::string describe() const override { return "RVC " + m_->describe(); }
  bool continuous() const override { return false; }

  void prepare(const StreamGeometry& g, const StreamParams& initial) override {
    g_ = g;
    if (g.sample_rate % 100 != 0) {
      fail("RVC streaming needs a device rate that is a multiple of 100 Hz, got ", g.sample_rate);
    }
    if (g.f0_method == "rmvpe" && m_->has_f0() && !m_->has_rmvpe()) {
      fail("f0_method rmvpe: no rmvpe model given (give one, or use f0_method yin)");
    }
    zc_ = g.sample_rate / 100;
    block16_ = 160 * g.block / zc_;
    in_res_ =
        std::make_unique<dsp::StreamResampler>(g.sample_rate, 16000, static_cast<int>(g.block));
    delay_ = in_res_->delay_frames();
    // ref: gui_v1.py, start_vc: skip_head = extra // zc; return_length = (block + sola_buffer +
    // sola_search) // zc (rounded up here so any crossfade length is covered).
    skip_head_ = g.extra / zc_;
    return_length_ = (g.infer_frames() + zc_ - 1) / zc_;
    frames_ = g.extra + return_length_ * zc_;
    win16_.assign(static_cast<size_t>(160 * frames_ / zc_), 0.0f);
    const int64_t n16 = static_cast<int64_t>(win16_.size());
    p_len_ = n16 / 160;
    cache_pitch_.assign(static_cast<size_t>(p_len_), 1);
    cache_pitchf_.assign(static_cast<size_t>(p_len_), 0.0f);
    res_out_.assign(static_cast<size_t>(in_res_->max_output(g.block) + 16), 0.0f);
    // The resampler gives block16 samples per block on average, +-1 per call: a few blocks of
    // room never fill.
    pending_.assign(static_cast<size_t>(2 * block16_ + res_out_.size()), 0.0f);
    pending_n_ = 0;

    // Every model's workspace for this fixed geometry (each runs a warm-up pass).
    const models::Hubert& hubert = m_->hubert();
    hubert_ws_ = hubert.make_workspace(n16);
    hubert.prepare(hubert_ws_, n16);
    t_ = hubert.frames(n16);
    c_ = hubert.output_dim(m_->hubert_final_proj());
    feats_.assign(static_cast<size_t>(t_ * c_), 0.0f);
    if (m_->has_index()) {
      index_ws_ = m_->index()->make_blend_workspace(std::max<int64_t>(t_ - skip_head_ / 2, 0));
    }
    const int64_t n_out = g.infer_frames();
    for (Slot& sl : slots_) {
      sl.phone = Tensor({p_len_, c_});
      sl.pitch.assign(static_cast<size_t>(p_len_), 1);
      sl.pitchf.assign(static_cast<size_t>(p_len_), 0.0f);
      sl.rms_in.assign(static_cast<size_t>(n_out), 0.0f);
      sl.return_length2 = return_length_;
    }
    // Formant shift renders return_length2 = ceil(return_length * 2^(f/12)) frames, f in
    // [-12, 12] (StreamParams::validate).
    const int64_t rl2_min = (return_length_ + 1) / 2, rl2_max = 2 * return_length_;
    // Decoder primitives for no formant shift (the usual case) and for the shortest length
    // too, so a block renders at its own length rather than at the longest one.
    synth_ws_ = m_->synthesizer().make_workspace(p_len_, rl2_max, {return_length_, rl2_min});

    f0_n_ = block16_ + 800;
    if (g_.f0_method == "rmvpe") f0_n_ = 5120 * ((f0_n_ - 1) / 5120 + 1) - 160;
    f0_n_ = std::min<int64_t>(f0_n_, n16);
    if (m_->has_f0()) {
      if (g_.f0_method == "rmvpe") {
        rmvpe_ws_ = m_->rmvpe()->make_workspace(f0_n_);
        m_->rmvpe()->prepare(rmvpe_ws_, f0_n_, kRmvpeThreshold);
        f0_frames_ = m_->rmvpe()->frames(f0_n_);
      } else {
        yin_ = std::make_unique<dsp::YinTracker>(dsp::F0Config{}, f0_n_);
        f0_frames_ = yin_->frames(f0_n_);
      }
      f0d_.assign(static_cast<size_t>(f0_frames_), 0.0);
      f0_.assign(static_cast<size_t>(f0_frames_), 0.0f);
      coarse_.assign(static_cast<size_t>(f0_frames_), 1);
    }

    // Model rate -> device rate, and the formant squeeze (upp -> spf samples per 10 ms frame),
    // with room for every upp the formant range gives.
    const int tgt = m_->sample_rate_hz(), spf = tgt / 100;
    const int64_t synth_max = (rl2_max + 1) * spf;
    formant_res_ = std::make_unique<dsp::BlockResampler>(spf, spf, synth_max);
    for (int upp = spf / 2 - 1; upp <= 2 * spf + 1; ++upp) {
      if (upp > 0) formant_res_->reserve(upp, spf);
    }
    formant_buf_.assign(static_cast<size_t>(return_length_ * spf + 16), 0.0f);
    out_res_ = std::make_unique<dsp::BlockResampler>(tgt, g.sample_rate, synth_max);
    out_buf_.assign(static_cast<size_t>(out_res_->output_frames(synth_max) + 16), 0.0f);
    rms_frames_.assign(static_cast<size_t>(1 + n_out / zc_), 0.0);
    env_in_.assign(static_cast<size_t>(n_out), 0.0f);
    env_out_.assign(static_cast<size_t>(n_out), 0.0f);

    // One whole block on silence with the initial parameters, and decoder calls at both formant
    // extremes, so every primitive, thread-local scratch and pool buffer exists before the first
    // live block; then back to silence.
    // In pipeline mode the synthesizer runs inside a two-thread region (on one thread), so the
    // formant extremes are warmed there too.
    Slot& ws = slots_[0];
    if (m_->has_f0()) {
      std::fill(ws.pitchf.begin(), ws.pitchf.end(), 100.0f);
      std::fill(ws.pitch.begin(), ws.pitch.end(), 50);
    }
    for (const int64_t rl2 : {rl2_min, rl2_max}) {
      ws.return_length2 = rl2;
      const auto run = [&] { m_->synthesizer().infer(request(ws), *synth_ws_); };
      if (g.pipeline) {
        side_by_side([] {}, run);
      } else {
        run();
      }
    }
    std::vector<float> silence(static_cast<size_t>(window_frames(g)), 0.0f);
    std::vector<float> out(static_cast<size_t>(n_out), 0.0f);
    StreamParams warm = initial;
    warm.index_rate = m_->has_index() ? 0.5 : 0.0;  // the index path too
    warm.rms_mix = 0.5;
    // Pipelined, the second call is the first to synthesize features it computed.
    for (int i = 0; i < (g.pipeline ? 2 : 1); ++i) infer(silence.data(), out.data(), warm);
    reset();
  }
  int64_t window_frames(const StreamGeometry& g) const override {
    return std::max(g.block, std::max(frames_, g.infer_frames() + delay_));
  }
  int64_t latency_frames() const override { return delay_; }
  int64_t pipeline_frames() const override { return g_.pipeline ? g_.block : 0; }

  void infer(const float* window, float* out, const StreamParams& p) override {
    const int64_t wf = window_frames(g_);
    // 16 kHz window: shift by one block, append the newest resampled block (through the
    // pending queue, since the resampler's output count varies by a sample between calls).
    const int64_t got = in_res_->process(window + wf - g_.block, g_.block, res_out_.data(),
                                         static_cast<int64_t>(res_out_.size()));
    const int64_t room = static_cast<int64_t>(pending_.size()) - pending_n_;
    const int64_t add = std::min(got, room);  // room never runs out (see prepare)
    std::copy(res_out_.data(), res_out_.data() + add, pending_.data() + pending_n_);
    pending_n_ += add;
    const int64_t n16 = static_cast<int64_t>(win16_.size());
    std::memmove(win16_.data(), win16_.data() + block16_,
                 static_cast<size_t>(n16 - block16_) * sizeof(float));
    const int64_t take = std::min(block16_, pending_n_);
    float* dst = win16_.data() + n16 - block16_;
    std::fill(dst, dst + (block16_ - take), 0.0f);  // start-up only
    std::copy(pending_.data(), pending_.data() + take, dst + (block16_ - take));
    std::memmove(pending_.data(), pending_.data() + take,
                 static_cast<size_t>(pending_n_ - take) * sizeof(float));
    pending_n_ -= take;

    if (!g_.pipeline) {
      features(window, p, slots_[0], nn::num_threads() >= 2);
      synthesize(slots_[0], out);
      return;
    }
    // Pipelined: this block's features on one thread while the previous block's features are
    // synthesized on the other, one thread each. The output is the previous block's.
    Slot& now = slots_[static_cast<size_t>(next_)];
    Slot& prev = slots_[static_cast<size_t>(1 - next_)];
    // Whichever half ends first waits at the region's end; the synthesizer, when it is the one,
    // lends its thread to the features' transformer Linears instead (rvc/nn/assist.h).
    assist_.open();
    side_by_side(
        [&] {
          const nn::Assist::Owner own(assist_);
          features(window, p, now, false);
        },
        [&] {
          synthesize(prev, out);
          assist_.serve();
        });
    if (!prev.filled) std::fill(out, out + g_.infer_frames(), 0.0f);
    next_ = 1 - next_;
  }

  void reset() override {
    in_res_->reset();
    pending_n_ = 0;
    std::fill(win16_.begin(), win16_.end(), 0.0f);
    std::fill(cache_pitch_.begin(), cache_pitch_.end(), 1);
    std::fill(cache_pitchf_.begin(), cache_pitchf_.end(), 0.0f);
    for (Slot& s : slots_) s.filled = false;
    next_ = 0;
  }

 private:
  static constexpr float kRmvpeThreshold = 0.03f;

  // One block's synthesizer input, computed by features() and read by synthesize(). Pipelined,
  // two of them alternate; otherwise only the first is used.
  struct Slot {
    Tensor phone;                // p_len x c
    std::vector<int64_t> pitch;  // coarse pitch cache
    std::vector<float> pitchf;   // F0 cache scaled for the formant shift
    std::vector<float> rms_in;   // the input under the output (rms mix)
    int64_t return_length2 = 0;
    double factor = 1.0, rms_mix = 1.0;
    bool filled = false;  // features() wrote it since reset()
  };

  models::SynthesizerRequest request(const Slot& s) const {
    models::SynthesizerRequest rq;
    rq.phone = &s.phone;
    rq.sid = sid_;
    rq.skip_head = skip_head_;
    rq.return_length = return_length_;
    rq.return_length2 = s.return_length2;
    if (m_->has_f0()) {
      rq.pitch = s.pitch.data();
      rq.pitchf = s.pitchf.data();
    }
    return rq;
  }

  // Runs a and b at once on a two-thread team (one after the other, a first, with one thread:
  // nn::num_threads() == 1 or inside another region); the models inside run single-threaded.
  // The first exception is rethrown.
  template <class A, class B>
  static void side_by_side(const A& a, const B& b) {
    std::exception_ptr err[2];
    const int nt = nn::num_threads() >= 2 ? 2 : 1;
#pragma omp parallel num_threads(nt)
    {
      const int id = omp_get_thread_num(), n = omp_get_num_threads();
      try {
        if (id == 0) a();
        if (id == 1 || n == 1) b();
      } catch (...) {
        err[id] = std::current_exception();
      }
    }
    for (const auto& e : err) {
      if (e) std::rethrow_exception(e);
    }
  }

  // HuBERT over the 16 kHz window, the index blend and the pitch cache, written to s with the
  // parameters the synthesizer needs. split_f0: run the F0 estimate beside HuBERT's feature
  // extractor (two threads).
  void features(const float* window, const StreamParams& p, Slot& s, bool split_f0) {
    // HuBERT over the whole window; upstream repeats the last frame once. With split_f0 its conv
    // feature extractor and the F0 of the new part run side by side, one thread each (at a
    // block's size both scale poorly over threads: about 1.1x for RMVPE), then the transformer
    // on all.
    const int64_t n16 = static_cast<int64_t>(win16_.size());
    const models::Hubert& hubert = m_->hubert();
    if (m_->has_f0() && split_f0) {
      side_by_side([&] { hubert.extract(win16_.data(), n16, hubert_ws_); },
                   [&] { update_pitch_cache(p); });
    } else {
      hubert.extract(win16_.data(), n16, hubert_ws_);
      if (m_->has_f0()) update_pitch_cache(p);
    }
    hubert.encode(n16, m_->hubert_output_layer(), m_->hubert_final_proj(), hubert_ws_,
                  feats_.data());
    const int64_t t = t_, c = c_;
    // Index blend on the new part (20 ms frames from skip_head / 2), in place.
    if (m_->has_index() && p.index_rate > 0 && t > skip_head_ / 2) {
      const int64_t from = skip_head_ / 2, n = t - from;
      formats::blend_with_index(*m_->index(), m_->big_npy(), feats_.data() + from * c, n,
                                static_cast<float>(p.index_rate), index_ws_,
                                feats_.data() + from * c);
    }
    // x2 nearest upsampling to 10 ms frames, p_len of them (last frame repeated as needed).
    for (int64_t i = 0; i < p_len_; ++i) {
      const int64_t src = std::min(i / 2, t - 1);
      std::copy(feats_.data() + src * c, feats_.data() + (src + 1) * c, s.phone.data() + i * c);
    }
    s.factor = std::pow(2.0, p.formant_semitones / 12.0);
    s.return_length2 =
        static_cast<int64_t>(std::ceil(static_cast<double>(return_length_) * s.factor));
    if (m_->has_f0()) {
      std::copy(cache_pitch_.begin(), cache_pitch_.end(), s.pitch.begin());
      for (int64_t i = 0; i < p_len_; ++i) {
        s.pitchf[static_cast<size_t>(i)] =
            static_cast<float>(cache_pitchf_[static_cast<size_t>(i)] *
                               static_cast<double>(s.return_length2) / return_length_);
      }
    }
    s.rms_mix = p.rms_mix;
    const int64_t n_out = g_.infer_frames();
    if (p.rms_mix < 1.0) {
      const float* in = window + window_frames(g_) - n_out - delay_;
      std::copy(in, in + n_out, s.rms_in.begin());
    }
    s.filled = true;
  }

  // The synthesizer on s's features, formant squeeze, model rate -> device rate, rms mix:
  // g_.infer_frames() samples to out.
  void synthesize(Slot& s, float* out) {
    const models::SynthesizerResult r = m_->synthesizer().infer(request(s), *synth_ws_);
    // Formant shift: the return_length2 frames are squeezed back to return_length.
    const int tgt = m_->sample_rate_hz(), spf = tgt / 100;
    const float* y = r.audio;
    int64_t ny = r.samples;
    const int upp = static_cast<int>(std::floor(s.factor * tgt / 100.0));
    if (upp != spf) {
      ny = std::min(ny, return_length_ * upp);
      formant_res_->set_rates(upp, spf);  // rebuilds its table only when upp changed
      ny = formant_res_->process(y, ny, formant_buf_.data(),
                                 static_cast<int64_t>(formant_buf_.size()));
      y = formant_buf_.data();
    }
    if (tgt != g_.sample_rate) {
      ny = out_res_->process(y, ny, out_buf_.data(), static_cast<int64_t>(out_buf_.size()));
      y = out_buf_.data();
    }
    const int64_t n_out = g_.infer_frames();
    const int64_t have = std::min(n_out, ny);
    std::copy(y, y + have, out);
    std::fill(out + have, out + n_out, 0.0f);
    if (s.rms_mix < 1.0) mix_rms(s.rms_in.data(), out, n_out, s.rms_mix);
  }

  // ref: rtrvc.py, RVC.infer (if_f0 branch): F0 of the newest block + 800 samples (rmvpe:
  // rounded up to 5120k - 160), shifted by pitch - formant semitones, written over the cache
  // tail after the cache moved by one block.
  void update_pitch_cache(const StreamParams& p) {
    const float* x = win16_.data() + win16_.size() - static_cast<size_t>(f0_n_);
    if (g_.f0_method == "rmvpe") {
      m_->rmvpe()->infer_f0(x, f0_n_, rmvpe_ws_, f0d_.data(), kRmvpeThreshold);
      for (int64_t i = 0; i < f0_frames_; ++i) {
        f0_[static_cast<size_t>(i)] = static_cast<float>(f0d_[static_cast<size_t>(i)]);
      }
    } else {
      yin_->track(x, f0_n_, f0_.data());
    }
    // dsp::shift_f0 and dsp::f0_to_coarse, in place.
    const double ratio = std::pow(2.0, (p.pitch_semitones - p.formant_semitones) / 12.0);
    for (int64_t i = 0; i < f0_frames_; ++i) {
      float& f = f0_[static_cast<size_t>(i)];
      f = static_cast<float>(f * ratio);
      coarse_[static_cast<size_t>(i)] = dsp::f0_to_coarse(static_cast<double>(f));
    }
    const int64_t shift = std::min(block16_ / 160, p_len_);
    std::copy(cache_pitch_.begin() + shift, cache_pitch_.end(), cache_pitch_.begin());
    std::copy(cache_pitchf_.begin() + shift, cache_pitchf_.end(), cache_pitchf_.begin());
    const int64_t len = f0_frames_;
    const int64_t n = std::min(len - 4, p_len_);  // pitch[3:-1]
    for (int64_t i = 0; i < n; ++i) {
      const size_t dst = static_cast<size_t>(p_len_ - n + i),
                   src = static_cast<size_t>(len - 1 - n + i);
      cache_pitch_[dst] = coarse_[src];
      cache_pitchf_[dst] = f0_[src];
    }
  }

  void mix_rms(const float* in, float* y, int64_t n, double rms_mix) {
    rms_envelope(in, n, zc_, &rms_frames_, &env_in_);
    rms_envelope(y, n, zc_, &rms_frames_, &env_out_);
    const double e = 1.0 - rms_mix;
    for (int64_t i = 0; i < n; ++i) {
      const double r2 = std::max<double>(env_out_[static_cast<size_t>(i)], 1e-3);
      y[i] = static_cast<float>(y[i] * std::pow(env_in_[static_cast<size_t>(i)] / r2, e));
    }
  }

  std::shared_ptr<const VoiceModels> m_;
  int64_t sid_ = 0;
  StreamGeometry g_;
  int64_t zc_ = 0, block16_ = 0, delay_ = 0, skip_head_ = 0, return_length_ = 0, frames_ = 0;
  int64_t p_len_ = 0, t_ = 0, c_ = 0, f0_n_ = 0, f0_frames_ = 0, pending_n_ = 0;
  std::unique_ptr<dsp::StreamResampler> in_res_;
  std::unique_ptr<dsp::BlockResampler> formant_res_, out_res_;
  models::HubertWorkspace hubert_ws_;
  models::RmvpeWorkspace rmvpe_ws_;
  std::optional<models::SynthesizerWorkspace> synth_ws_;  // set in prepare()
  formats::IndexBlendWorkspace index_ws_;
  std::unique_ptr<dsp::YinTracker> yin_;
  Slot slots_[2];
  nn::Assist assist_;
  int next_ = 0;  // pipelined: the slot features() fills next
  std::vector<float> res_out_, pending_, win16_, cache_pitchf_, feats_, f0_;
  std::vector<float> formant_buf_, out_buf_, env_in_, env_out_;
  std::vector<int64_t> cache_pitch_, coarse_;
  std::vector<double> rms_frames_, f0d_;
};

}  // namespace

std::unique_ptr<VoiceBackend> make_rvc_backend(std::shared_ptr<const VoiceModels> models,
                                               int64_t speaker) {
  return std::make_unique<RvcBackend>(std::move(models), speaker);
}

}  // namespace rvc::pipeline
