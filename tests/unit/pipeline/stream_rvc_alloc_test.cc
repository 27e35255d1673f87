// The RVC stream backend is real-time safe: after construction and a few blocks, Stream::process
// makes no allocation outside oneDNN's own execute (tests/support/alloc_counter.h tells them
// apart), with the index on, for both F0 methods, across a mid-stream parameter change (pitch,
// formant, index rate, rms mix). Its output equals, block for block, a reference backend that
// runs the same steps through the allocating model APIs (HuBERT/RMVPE/synthesizer forward
// returning tensors, blend_with_index returning an IndexBlend, estimate_f0, a fresh resampler per
// call): the workspaces, rings and scratch change where memory comes from, not the numbers.
// Pipelined (StreamConfig::pipeline), the same holds with the output one block later.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "rvc/dsp/f0.h"
#include "rvc/dsp/resample.h"
#include "rvc/formats/audio_file.h"
#include "rvc/pipeline/stream.h"
#include "rvc/pipeline/voice_models.h"
#include "support/alloc_counter.h"
#include "support/fixtures.h"
#include "support/voice_fixture.h"

namespace rvc::pipeline {
namespace {

// librosa-style RMS envelope, one value per sample (as the backend's).
std::vector<float> envelope(const float* x, int64_t n, int64_t hop) {
  const int64_t nf = 1 + n / hop;
  std::vector<double> fr(static_cast<size_t>(nf));
  for (int64_t j = 0; j < nf; ++j) {
    double s = 0.0;
    for (int64_t i = j * hop - 2 * hop; i < j * hop + 2 * hop; ++i) {
      if (i >= 0 && i < n) s += static_cast<double>(x[i]) * x[i];
    }
    fr[size_t(j)] = std::sqrt(s / static_cast<double>(4 * hop));
  }
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double pos = double(i) * double(nf - 1) / double(n);
    const int64_t a = std::min<int64_t>(int64_t(pos), nf - 1), b = std::min(a + 1, nf - 1);
    const double t = pos - double(a);
    out[size_t(i)] = float(fr[size_t(a)] * (1 - t) + fr[size_t(b)] * t);
  }
  return out;
}

std::vector<float> resample_block(const std::vector<float>& x, int from, int to) {
  dsp::BlockResampler r(from, to, static_cast<int64_t>(x.size()));
  std::vector<float> y(static_cast<size_t>(r.output_frames(static_cast<int64_t>(x.size()))));
  r.process(x.data(), static_cast<int64_t>(x.size()), y.data(), static_cast<int64_t>(y.size()));
  return y;
}

// The backend's steps (ref: rtrvc.py RVC.infer) through the allocating APIs.
class ReferenceBackend final : public VoiceBackend {
 public:
  explicit ReferenceBackend(std::shared_ptr<const VoiceModels> m) : m_(std::move(m)) {}
  std::string describe() const override { return "reference"; }
  bool continuous() const override { return false; }
  void prepare(const StreamGeometry& g, const StreamParams&) override {
    g_ = g;
    zc_ = g.sample_rate / 100;
    block16_ = 160 * g.block / zc_;
    in_res_ =
        std::make_unique<dsp::StreamResampler>(g.sample_rate, 16000, static_cast<int>(g.block));
    delay_ = in_res_->delay_frames();
    skip_head_ = g.extra / zc_;
    return_length_ = (g.infer_frames() + zc_ - 1) / zc_;
    frames_ = g.extra + return_length_ * zc_;
    win16_.assign(static_cast<size_t>(160 * frames_ / zc_), 0.0f);
    p_len_ = static_cast<int64_t>(win16_.size()) / 160;
    pitch_.assign(static_cast<size_t>(p_len_), 1);
    pitchf_.assign(static_cast<size_t>(p_len_), 0.0f);
    res_out_.resize(static_cast<size_t>(in_res_->max_output(g.block) + 16));
  }
  int64_t window_frames(const StreamGeometry& g) const override {
    return std::max(g.block, std::max(frames_, g.infer_frames() + delay_));
  }
  int64_t latency_frames() const override { return delay_; }
  void reset() override {}

  void infer(const float* window, float* out, const StreamParams& p) override {
    const int64_t wf = window_frames(g_);
    const int64_t got = in_res_->process(window + wf - g_.block, g_.block, res_out_.data(),
                                         static_cast<int64_t>(res_out_.size()));
    pending_.insert(pending_.end(), res_out_.begin(), res_out_.begin() + got);
    const int64_t n16 = static_cast<int64_t>(win16_.size());
    std::memmove(win16_.data(), win16_.data() + block16_, size_t(n16 - block16_) * 4);
    const int64_t take = std::min<int64_t>(block16_, static_cast<int64_t>(pending_.size()));
    float* dst = win16_.data() + n16 - block16_;
    std::fill(dst, dst + (block16_ - take), 0.0f);
    std::copy(pending_.begin(), pending_.begin() + take, dst + (block16_ - take));
    pending_.erase(pending_.begin(), pending_.begin() + take);

    Tensor feats = m_->hubert().forward(win16_.data(), n16, m_->hubert_output_layer(),
                                        m_->hubert_final_proj());
    const int64_t t = feats.dim(0), c = feats.dim(1);
    if (m_->has_index() && p.index_rate > 0 && t > skip_head_ / 2) {
      const int64_t from = skip_head_ / 2, n = t - from;
      const Tensor part({n, c}, feats.data() + from * c);
      const auto b = formats::blend_with_index(*m_->index(), m_->big_npy(), part,
                                               static_cast<float>(p.index_rate));
      std::copy(b.blended.data(), b.blended.data() + n * c, feats.data() + from * c);
    }
    Tensor phone({p_len_, c});
    for (int64_t i = 0; i < p_len_; ++i) {
      const int64_t src = std::min(i / 2, t - 1);
      std::copy(feats.data() + src * c, feats.data() + (src + 1) * c, phone.data() + i * c);
    }
    const double factor = std::pow(2.0, p.formant_semitones / 12.0);
    const auto rl2 = static_cast<int64_t>(std::ceil(double(return_length_) * factor));
    models::SynthesizerRequest rq;
    rq.phone = &phone;
    rq.skip_head = skip_head_;
    rq.return_length = return_length_;
    rq.return_length2 = rl2;
    std::vector<float> pf;
    if (m_->has_f0()) {
      update_pitch(p);
      pf = pitchf_;
      for (float& f : pf) f = static_cast<float>(f * double(rl2) / return_length_);
      rq.pitch = pitch_.data();
      rq.pitchf = pf.data();
    }
    const Tensor audio = m_->synthesizer().infer(rq).audio;
    const int tgt = m_->sample_rate_hz(), spf = tgt / 100;
    std::vector<float> y(audio.data(), audio.data() + audio.numel());
    const int upp = static_cast<int>(std::floor(factor * tgt / 100.0));
    if (upp != spf) {
      y.resize(std::min<size_t>(y.size(), size_t(return_length_ * upp)));
      y = resample_block(y, upp, spf);
    }
    if (tgt != g_.sample_rate) y = resample_block(y, tgt, g_.sample_rate);
    const int64_t n_out = g_.infer_frames();
    y.resize(size_t(std::max<int64_t>(n_out, int64_t(y.size()))), 0.0f);
    std::copy(y.begin(), y.begin() + n_out, out);
    if (p.rms_mix < 1.0) {
      const auto ei = envelope(window + wf - n_out - delay_, n_out, zc_);
      const auto eo = envelope(out, n_out, zc_);
      for (int64_t i = 0; i < n_out; ++i) {
        const double r2 = std::max<double>(eo[size_t(i)], 1e-3);
        out[i] = float(out[i] * std::pow(ei[size_t(i)] / r2, 1.0 - p.rms_mix));
      }
    }
  }

 private:
  void update_pitch(const StreamParams& p) {
    int64_t nf = block16_ + 800;
    if (g_.f0_method == "rmvpe") nf = 5120 * ((nf - 1) / 5120 + 1) - 160;
    nf = std::min<int64_t>(nf, static_cast<int64_t>(win16_.size()));
    const float* x = win16_.data() + win16_.size() - size_t(nf);
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
    std::copy(pitch_.begin() + shift, pitch_.end(), pitch_.begin());
    std::copy(pitchf_.begin() + shift, pitchf_.end(), pitchf_.begin());
    const int64_t len = int64_t(f0.size()), n = std::min(len - 4, p_len_);
    for (int64_t i = 0; i < n; ++i) {
      pitch_[size_t(p_len_ - n + i)] = coarse[size_t(len - 1 - n + i)];
      pitchf_[size_t(p_len_ - n + i)] = f0[size_t(len - 1 - n + i)];
    }
  }

  std::shared_ptr<const VoiceModels> m_;
  StreamGeometry g_;
  int64_t zc_ = 0, block16_ = 0, delay_ = 0, skip_head_ = 0, return_length_ = 0, frames_ = 0;
  int64_t p_len_ = 0;
  std::unique_ptr<dsp::StreamResampler> in_res_;
  std::vector<float> res_out_, pending_, win16_, pitchf_;
  std::vector<int64_t> pitch_;
};

struct Voice {
  std::string name;
  std::shared_ptr<const VoiceModels> models;
  std::vector<float> x48;  // the case's input at 48 kHz
};

std::vector<Voice> voices() {
  std::vector<Voice> out;
  const auto rmvpe_cases = test::cases_of_kind("rmvpe");
  for (const auto& c : test::cases_of_kind("pipeline")) {
    const auto& files = c.manifest.at("files");
    if (!files.contains("input_wav")) continue;
    VoiceModelPaths paths = test::voice_paths(c);
    if (!rmvpe_cases.empty()) {
      const auto& r = rmvpe_cases[0];
      paths.rmvpe = r.file(r.manifest.at("files").at("rmvpe").at("file")).string();
    }
    const formats::Audio in = formats::read_audio_mono(c.file(files.at("input_wav").at("file")));
    out.push_back(
        {c.name, VoiceModels::load(paths), dsp::resample(in.samples, in.sample_rate, 48000)});
  }
  return out;
}

TEST(StreamRvcAlloc, ProcessAllocatesNothingAndMatchesTheAllocatingPath) {
  const auto vs = voices();
  ASSERT_FALSE(vs.empty());
  test::AllocCounter counter;
  int runs = 0, with_index = 0;
  for (const auto& v : vs) {
    for (const std::string f0 : {"rmvpe", "yin"}) {
      if (f0 == "rmvpe" && v.models->has_f0() && !v.models->has_rmvpe()) continue;
      if (f0 == "yin" && !v.models->has_f0()) continue;  // no F0: one run is enough
      for (const bool pipe : {false, true}) {
        SCOPED_TRACE(v.name + " f0=" + f0 + (pipe ? " pipelined" : ""));
        StreamConfig cfg;
        cfg.sample_rate = 48000;
        cfg.block_ms = 100;
        cfg.extra_ms = 500;
        cfg.f0_method = f0;
        cfg.pipeline = pipe;
        cfg.params.index_rate = v.models->has_index() ? 0.75 : 0.0;
        cfg.params.rms_mix = 0.5;
        Stream s(cfg, make_rvc_backend(v.models));
        Stream ref(cfg, std::make_unique<ReferenceBackend>(v.models));
        const int64_t b = s.block_frames();
        // Pipelined, block k's output is the reference's block k - 1 (silence for the first).
        EXPECT_EQ(s.latency().pipeline, pipe ? b : 0);
        EXPECT_EQ(s.latency_frames(), ref.latency_frames() + (pipe ? b : 0));
        std::vector<float> y(static_cast<size_t>(b)), yr(y.size()), in(y.size());
        std::vector<float> prev(y.size(), 0.0f);  // the reference's previous block
        const std::vector<float>& want = pipe ? prev : yr;
        int64_t outside = 0, dnnl = 0, ref_allocs = 0;
        std::string callers;
        double max_diff = 0.0;
        constexpr int kWarm = 3, kCounted = 20;
        for (int k = 0; k < kWarm + kCounted; ++k) {
          for (int64_t i = 0; i < b; ++i) {  // the recording, looped
            in[size_t(i)] = v.x48[size_t((k * b + i) % int64_t(v.x48.size()))];
          }
          if (k == kWarm + kCounted / 2) {
            StreamParams p = s.params();
            p.pitch_semitones = 5;
            p.formant_semitones = -3;
            p.index_rate = v.models->has_index() ? 0.3 : 0.0;
            p.rms_mix = 0.2;
            s.set_params(p);
            ref.set_params(p);
          }
          if (k >= kWarm) counter.start();
          s.process(in.data(), y.data());
          counter.stop();
          if (k >= kWarm) {
            outside += counter.outside_dnnl();
            dnnl += counter.dnnl();
            if (counter.outside_dnnl() > 0 && callers.empty()) callers = counter.callers();
          }
          prev = yr;
          if (k >= kWarm) counter.start();
          ref.process(in.data(), yr.data());
          counter.stop();
          if (k >= kWarm) ref_allocs += counter.outside_dnnl();
          for (int64_t i = 0; i < b; ++i) {
            max_diff = std::max(max_diff, std::fabs(double(y[size_t(i)]) - want[size_t(i)]));
          }
        }
        // The live path builds the stream on one thread and runs it on a worker (StreamRunner):
        // the workspaces work from another thread too (that thread's scratch is made on its first
        // block) and give the same output.
        double thread_diff = 0.0;
        std::thread worker([&] {
          for (int k = kWarm + kCounted; k < kWarm + kCounted + 3; ++k) {
            for (int64_t i = 0; i < b; ++i) {
              in[size_t(i)] = v.x48[size_t((k * b + i) % int64_t(v.x48.size()))];
            }
            s.process(in.data(), y.data());
            prev = yr;
            ref.process(in.data(), yr.data());
            for (int64_t i = 0; i < b; ++i) {
              thread_diff =
                  std::max(thread_diff, std::fabs(double(y[size_t(i)]) - want[size_t(i)]));
            }
          }
        });
        worker.join();
        EXPECT_LE(thread_diff, 1e-6) << "blocks on another thread differ";
        std::printf(
            "%s f0=%s%s: %lld allocations in rvc code, %lld in oneDNN's execute over %d "
            "blocks (the allocating reference: %lld); max |stream - reference| %.3g\n",
            v.name.c_str(), f0.c_str(), pipe ? " pipelined" : "", static_cast<long long>(outside),
            static_cast<long long>(dnnl), kCounted, static_cast<long long>(ref_allocs), max_diff);
        EXPECT_EQ(outside, 0) << "Stream::process allocated; first callers: " << callers;
        EXPECT_LE(max_diff, 1e-6) << "the allocation-free path changed the output";
      }
      ++runs;
      if (v.models->has_index()) ++with_index;
    }
  }
  EXPECT_GT(runs, 0);
  EXPECT_GT(with_index, 0) << "no fixture voice has an index: the blend went untested";
  // The counter sees allocations made inside the counted region.
  counter.start();
  auto* p = new std::vector<float>(16);
  counter.stop();
  delete p;
  EXPECT_GE(counter.outside_dnnl(), 1);
}

}  // namespace
}  // namespace rvc::pipeline
