// The built-in DSP voice as a Stream backend: a streaming pitch/formant shifter, so its output
// is continuous and the Stream needs no SOLA search.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "rvc/dsp/voice_changer.h"
#include "rvc/pipeline/stream.h"

namespace rvc::pipeline {
namespace {

class BuiltinBackend final : public VoiceBackend {
 public:
  std::string describe() const override { return "built-in DSP voice (no model)"; }
  bool continuous() const override { return true; }

  void prepare(const StreamGeometry& g, const StreamParams& initial) override {
    g_ = g;
    dsp::VoiceChangerConfig c;
    c.sample_rate = g.sample_rate;
    c.params = {initial.pitch_semitones, initial.formant_semitones};
    vc_ = std::make_unique<dsp::VoiceChanger>(c);
    hist_.assign(static_cast<size_t>(g.infer_frames()), 0.0f);
    pitch_ = initial.pitch_semitones;
    formant_ = initial.formant_semitones;
  }
  int64_t window_frames(const StreamGeometry& g) const override { return g.block; }
  int64_t latency_frames() const override { return vc_ ? vc_->latency() : 0; }

  void infer(const float* window, float* out, const StreamParams& p) override {
    if (p.pitch_semitones != pitch_) vc_->set_pitch(pitch_ = p.pitch_semitones);
    if (p.formant_semitones != formant_) vc_->set_formant(formant_ = p.formant_semitones);
    // The voice output is kept as a sliding history so that any SOLA geometry can be served.
    const int64_t n = g_.infer_frames(), b = g_.block;
    std::memmove(hist_.data(), hist_.data() + b, static_cast<size_t>(n - b) * sizeof(float));
    vc_->process(window, hist_.data() + (n - b), b);
    std::copy(hist_.begin(), hist_.end(), out);
  }
  void reset() override {
    if (vc_) vc_->reset();
    std::fill(hist_.begin(), hist_.end(), 0.0f);
  }

 private:
  StreamGeometry g_;
  std::unique_ptr<dsp::VoiceChanger> vc_;
  std::vector<float> hist_;
  double pitch_ = 0.0, formant_ = 0.0;
};

}  // namespace

std::unique_ptr<VoiceBackend> make_builtin_backend() { return std::make_unique<BuiltinBackend>(); }

}  // namespace rvc::pipeline
