// The RVC model voice as a Stream backend: upstream's realtime inference, block by block.
// ref: infer/lib/rtrvc.py (branch 20240604), RVC.infer; gui_v1.py, GUI.audio_infer.
//
// Per block: the newest input is resampled to 16 kHz (streaming) into a sliding 16 kHz window
// of extra + crossfade + search + block; HuBERT runs over the whole window; the index blend
// covers the new part (from skip_head); F0 is estimated on the newest block + 50 ms and kept in
// a pitch cache; the synthesizer renders only the last return_length frames (skip_head /
// return_length / return_length2 for the formant shift); the model-rate audio is resampled to
// the device rate and, with rms_mix < 1, given the input's loudness envelope.
// Not real-time safe yet: the models allocate their activations per call.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/dsp/f0.h"
#include "rvc/dsp/resample.h"
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

  void prepare(const StreamGeometry& g, const StreamParams&) override {
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
    p_len_ = static_cast<int64_t>(win16_.size()) / 160;
    cache_pitch_.assign(static_cast<size_t>(p_len_), 1);
    cache_pitchf_.assign(static_cast<size_t>(p_len_), 0.0f);
    res_out_.resize(static_cast<size_t>(in_res_->max_output(g.block) + 16));
    pending_.clear();
  }
  int64_t window_frames(const StreamGeometry& g) const override {
    return std::max(g.block, std::max(frames_, g.infer_frames() + delay_));
  }
  int64_t latency_frames() const override { return delay_; }

  void infer(const float* window, float* out, const StreamParams& p) override {
    const int64_t wf = window_frames(g_);
    // 16 kHz window: shift by one block, append the newest resampled block.
    const int64_t got = in_res_->process(window + wf - g_.block, g_.block, res_out_.data(),
                                         static_cast<int64_t>(res_out_.size()));
    pending_.insert(pending_.end(), res_out_.begin(), res_out_.begin() + got);
    const int64_t n16 = static_cast<int64_t>(win16_.size());
    std::memmove(win16_.data(), win16_.data() + block16_,
                 static_cast<size_t>(n16 - block16_) * sizeof(float));
    const int64_t take = std::min<int64_t>(block16_, static_cast<int64_t>(pending_.size()));
    float* dst = win16_.data() + n16 - block16_;
    std::fill(dst, dst + (block16_ - take), 0.0f);  // start-up only
    std::copy(pending_.begin(), pending_.begin() + take, dst + (block16_ - take));
    pending_.erase(pending_.begin(), pending_.begin() + take);

    // HuBERT over the whole window; upstream repeats the last frame once.
    Tensor feats = m_->hubert().forward(win16_.data(), n16, m_->hubert_output_layer(),
                                        m_->hubert_final_proj());
    const int64_t t = feats.dim(0), c = feats.dim(1);
    // Index blend on the new part (20 ms frames from skip_head / 2).
    if (m_->has_index() && p.index_rate > 0 && t > skip_head_ / 2) {
      const int64_t from = skip_head_ / 2, n = t - from;
      Tensor part({n, c}, feats.data() + from * c);
      const auto blend = formats::blend_with_index(*m_->index(), m_->big_npy(), part,
                                                   static_cast<float>(p.index_rate));
      std::copy(blend.blended.data(), blend.blended.data() + n * c, feats.data() + from * c);
    }
    // x2 nearest upsampling to 10 ms frames, p_len of them (last frame repeated as needed).
    Tensor phone({p_len_, c});
    for (int64_t i = 0; i < p_len_; ++i) {
      const int64_t src = std::min(i / 2, t - 1);
      std::copy(feats.data() + src * c, feats.data() + (src + 1) * c, phone.data() + i * c);
    }
    const double factor = std::pow(2.0, p.formant_semitones / 12.0);
    const int64_t return_length2 =
        static_cast<int64_t>(std::ceil(static_cast<double>(return_length_) * factor));
    models::SynthesizerRequest rq;
    rq.phone = &phone;
    rq.sid = sid_;
    rq.skip_head = skip_head_;
    rq.return_length = return_length_;
    rq.return_length2 = return_length2;
    std::vector<float> pitchf_scaled;
    if (m_->has_f0()) {
      update_pitch_cache(p);
      pitchf_scaled = cache_pitchf_;
      for (float& f : pitchf_scaled) {
        f = static_cast<float>(f * static_cast<double>(return_length2) / return_length_);
      }
      rq.pitch = cache_pitch_.data();
      rq.pitchf = pitchf_scaled.data();
    }
    const Tensor audio = m_->synthesizer().infer(rq).audio;
    // Formant shift: the return_length2 frames are squeezed back to return_length.
    const int tgt = m_->sample_rate_hz(), spf = tgt / 100;
    std::vector<float> y(audio.data(), audio.data() + audio.numel());
    const int upp = static_cast<int>(std::floor(factor * tgt / 100.0));
    if (upp != spf) {
      y.resize(std::min<size_t>(y.size(), static_cast<size_t>(return_length_ * upp)));
      y = dsp::resample(y, upp, spf);
    }
    if (tgt != g_.sample_rate) y = dsp::resample(y, tgt, g_.sample_rate);
    const int64_t n_out = g_.infer_frames();
    y.resize(static_cast<size_t>(std::max<int64_t>(n_out, static_cast<int64_t>(y.size()))), 0.0f);
    std::copy(y.begin(), y.begin() + n_out, out);
    if (p.rms_mix < 1.0) mix_rms(window + wf - n_out - delay_, out, n_out, p.rms_mix);
  }

  void reset() override {
    in_res_->reset();
    pending_.clear();
    std::fill(win16_.begin(), win16_.end(), 0.0f);
    std::fill(cache_pitch_.begin(), cache_pitch_.end(), 1);
    std::fill(cache_pitchf_.begin(), cache_pitchf_.end(), 0.0f);
  }

 private:
  // ref: rtrvc.py, RVC.infer (if_f0 branch): F0 of the newest block + 800 samples (rmvpe:
  // rounded up to 5120k - 160), shifted by pitch - formant semitones, written over the cache
  // tail after the cache moved by one block.
  void update_pitch_cache(const StreamParams& p) {
    int64_t nf = block16_ + 800;
    if (g_.f0_method == "rmvpe") nf = 5120 * ((nf - 1) / 5120 + 1) - 160;
    nf = std::min<int64_t>(nf, static_cast<int64_t>(win16_.size()));
    const float* x = win16_.data() + win16_.size() - static_cast<size_t>(nf);
    std::vector<float> f0;
    if (g_.f0_method == "rmvpe") {
      const auto d = m_->rmvpe()->infer_f0(x, nf, 0.03f);
      f0.assign(d.begin(), d.end());
    } else {
      f0 = dsp::estimate_f0(x, nf, dsp::F0Config{});
    }
    dsp::shift_f0(f0, p.pitch_semitones - p.formant_semitones);
    const auto coarse = dsp::f0_to_coarse(f0);
    const int64_t shift = std::min(block16_ / 160, p_len_);
    std::copy(cache_pitch_.begin() + shift, cache_pitch_.end(), cache_pitch_.begin());
    std::copy(cache_pitchf_.begin() + shift, cache_pitchf_.end(), cache_pitchf_.begin());
    const int64_t len = static_cast<int64_t>(f0.size());
    const int64_t n = std::min(len - 4, p_len_);  // pitch[3:-1]
    for (int64_t i = 0; i < n; ++i) {
      const size_t dst = static_cast<size_t>(p_len_ - n + i),
                   src = static_cast<size_t>(len - 1 - n + i);
      cache_pitch_[dst] = coarse[src];
      cache_pitchf_[dst] = f0[src];
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
  int64_t p_len_ = 0;
  std::unique_ptr<dsp::StreamResampler> in_res_;
  std::vector<float> res_out_, pending_, win16_, cache_pitchf_, env_in_, env_out_;
  std::vector<int64_t> cache_pitch_;
  std::vector<double> rms_frames_;
};

}  // namespace

std::unique_ptr<VoiceBackend> make_rvc_backend(std::shared_ptr<const VoiceModels> models,
                                               int64_t speaker) {
  return std::make_unique<RvcBackend>(std::move(models), speaker);
}

}  // namespace rvc::pipeline
