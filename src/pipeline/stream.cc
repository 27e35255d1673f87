// Stream: gain, noise suppression, silence gate, input window, backend, SOLA, output gain. See
// stream.h.
#include "rvc/pipeline/stream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rvc/core/error.h"

namespace rvc::pipeline {
namespace {

constexpr int kDirty = 4;

float db_to_gain(double db) { return static_cast<float>(std::pow(10.0, db / 20.0)); }

// Linear ramp of gain from g0 to g1 over n samples (g1 reached on the last sample).
void apply_ramp(const float* in, float* out, int64_t n, float g0, float g1) {
  if (g0 == g1) {
    for (int64_t i = 0; i < n; ++i) out[i] = in[i] * g1;
    return;
  }
  const float step = (g1 - g0) / static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * (g0 + step * static_cast<float>(i + 1));
}

StreamGeometry make_geometry(const StreamConfig& c, const VoiceBackend& b) {
  StreamGeometry g;
  g.sample_rate = c.sample_rate;
  g.block = c.block_frames();
  g.crossfade = b.continuous() ? 0 : c.crossfade_frames();
  g.search = b.continuous() ? 0 : c.sola_search_frames();
  g.extra = c.extra_frames();
  g.f0_method = c.f0_method;
  g.pipeline = c.pipeline && !b.continuous();
  return g;
}

const StreamConfig& validated(const StreamConfig& c) {
  c.validate();
  return c;
}

std::unique_ptr<VoiceBackend> non_null(std::unique_ptr<VoiceBackend> b) {
  if (!b) fail("Stream: no voice backend given");
  return b;
}

}  // namespace

// ---- ParamBox: triple buffer ----------------------------------------------------------------

Stream::ParamBox::ParamBox(const StreamParams& p) : latest_(p) {
  for (auto& s : slots_) s = p;
}

void Stream::ParamBox::write(const StreamParams& p) {
  std::lock_guard<std::mutex> lock(write_mu_);
  slots_[back_] = p;
  back_ = middle_.exchange(back_ | kDirty, std::memory_order_acq_rel) & 3;
  latest_ = p;
}

bool Stream::ParamBox::read(StreamParams* out) {
  if (!(middle_.load(std::memory_order_relaxed) & kDirty)) return false;
  front_ = middle_.exchange(front_, std::memory_order_acq_rel) & 3;
  *out = slots_[front_];
  return true;
}

StreamParams Stream::ParamBox::latest() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return latest_;
}

// ---- Stream ---------------------------------------------------------------------------------

Stream::Stream(const StreamConfig& config, std::unique_ptr<VoiceBackend> backend)
    : config_(validated(config)),
      backend_(non_null(std::move(backend))),
      box_(config.params),
      cur_(config.params),
      sola_(config.block_frames(), backend_->continuous() ? 0 : config.crossfade_frames(),
            backend_->continuous() ? 0 : config.sola_search_frames()),
      denoise_(config.sample_rate, config.block_frames(), config.params.noise_suppression) {
  geometry_ = make_geometry(config_, *backend_);
  if (geometry_.crossfade > geometry_.block) {
    fail("crossfade_ms: ", config_.crossfade_ms, " ms is longer than the block (",
         static_cast<double>(geometry_.block) * 1000.0 / config_.sample_rate, " ms)");
  }
  backend_->prepare(geometry_, cur_);
  window_frames_ = backend_->window_frames(geometry_);
  if (window_frames_ < geometry_.block) {
    fail("Stream: backend '", backend_->describe(), "' asked for a window of ", window_frames_,
         " samples, less than one block (", geometry_.block, ")");
  }
  window_.assign(static_cast<size_t>(window_frames_), 0.0f);
  raw_.assign(static_cast<size_t>(3 * config_.zc() + geometry_.block), 0.0f);
  infer_.assign(static_cast<size_t>(geometry_.infer_frames()), 0.0f);
  block_out_.assign(static_cast<size_t>(geometry_.block), 0.0f);
  in_gain_ = db_to_gain(cur_.input_gain_db);
  out_gain_ = db_to_gain(cur_.output_gain_db);
}

Stream::~Stream() = default;

void Stream::set_params(const StreamParams& p) {
  p.validate();
  box_.write(p);
}

StreamParams Stream::params() const { return box_.latest(); }

StreamLatency Stream::latency() const {
  return {geometry_.block,           geometry_.crossfade,
          geometry_.search,          backend_->latency_frames(),
          denoise_.latency_frames(), backend_->pipeline_frames()};
}

double Stream::latency_ms() const {
  return static_cast<double>(latency_frames()) * 1000.0 / config_.sample_rate;
}

// Gain ramp into raw_, noise suppression in place there (so the gate measures the cleaned
// input), then the gate writes the gated block to the end of window_.
// ref: gui_v1.py, audio_infer (threhold: librosa RMS over 4*zc frames per zc hop, chunks below
// the threshold in dB zeroed). Here the RMS window ends at the chunk's end (no look-ahead) and the
// gate ramps over one chunk instead of switching hard.
void Stream::gate_and_gain(const float* in) {
  const int64_t zc = config_.zc(), b = geometry_.block, hist = 3 * zc;
  std::memmove(raw_.data(), raw_.data() + b, static_cast<size_t>(hist) * sizeof(float));
  const float g_in = db_to_gain(cur_.input_gain_db);
  apply_ramp(in, raw_.data() + hist, b, in_gain_, g_in);
  in_gain_ = g_in;
  denoise_.set_level(cur_.noise_suppression);
  denoise_.process(raw_.data() + hist, b);

  float* dst = window_.data() + (window_frames_ - b);
  if (cur_.threshold_db <= -60.0) {
    apply_ramp(raw_.data() + hist, dst, b, gate_gain_, 1.0f);
    gate_gain_ = 1.0f;
    return;
  }
  for (int64_t c = 0; c * zc < b; ++c) {
    double sum = 0.0;
    const float* w = raw_.data() + c * zc;  // 4 zc ending at this chunk's end
    for (int64_t i = 0; i < 4 * zc; ++i) sum += static_cast<double>(w[i]) * w[i];
    const double rms = std::sqrt(sum / static_cast<double>(4 * zc));
    const double db = 20.0 * std::log10(std::max(rms, 1e-5));  // librosa amin = 1e-5
    const float target = db < cur_.threshold_db ? 0.0f : 1.0f;
    const int64_t n = std::min(zc, b - c * zc);
    apply_ramp(raw_.data() + hist + c * zc, dst + c * zc, n, gate_gain_, target);
    gate_gain_ = target;
  }
}

void Stream::process(const float* in, float* out) {
  box_.read(&cur_);
  const int64_t b = geometry_.block;
  // ref: gui_v1.py, audio_infer: input_wav[:-block] = input_wav[block:]
  std::memmove(window_.data(), window_.data() + b,
               static_cast<size_t>(window_frames_ - b) * sizeof(float));
  gate_and_gain(in);
  backend_->infer(window_.data(), infer_.data(), cur_);
  last_offset_ = sola_.process(infer_.data(), block_out_.data());
  const float g_out = db_to_gain(cur_.output_gain_db);
  apply_ramp(block_out_.data(), out, b, out_gain_, g_out);
  out_gain_ = g_out;
  for (int64_t i = 0; i < b; ++i) {
    const float v = out[i];
    if (!(std::abs(v) <= 1.0f)) out[i] = std::isnan(v) ? 0.0f : std::copysign(1.0f, v);
  }
  ++blocks_;
}

void Stream::warm_up(int blocks) {
  std::vector<float> silence(static_cast<size_t>(geometry_.block), 0.0f), out(silence.size());
  for (int i = 0; i < blocks; ++i) process(silence.data(), out.data());
  reset();
}

void Stream::reset() {
  backend_->reset();
  sola_.reset();
  denoise_.reset();
  std::fill(window_.begin(), window_.end(), 0.0f);
  std::fill(raw_.begin(), raw_.end(), 0.0f);
  box_.read(&cur_);
  in_gain_ = db_to_gain(cur_.input_gain_db);
  out_gain_ = db_to_gain(cur_.output_gain_db);
  gate_gain_ = 1.0f;
  last_offset_ = 0;
  blocks_ = 0;
}

}  // namespace rvc::pipeline
