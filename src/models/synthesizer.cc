// Synthesizer: config, construction and infer().
#include "rvc/models/synthesizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/ops.h"
#include "synthesizer_parts.h"

namespace rvc::models {

struct SynthesizerWorkspace::Buffers {
  synth::Buf m_p, logs_p, z, zin;
  synth::EncoderScratch enc;
  synth::FlowScratch flow;
  synth::DecoderScratch dec;
};

struct Synthesizer::Parts {
  Parts(const SynthesizerConfig& c, const synth::Weights& w, nn::Backend b)
      : enc(c, w, b), flow(c, w, b), dec(c, w, b) {}
  synth::TextEncoder enc;
  synth::Flow flow;
  synth::Decoder dec;
  Tensor emb_g;  // [speakers][gin]
};

void SynthesizerConfig::validate() const {
  auto need = [](bool ok, const char* field) {
    if (!ok) fail("synthesizer config: invalid ", field);
  };
  need(inter_channels > 0 && inter_channels % 2 == 0, "inter_channels");
  need(hidden_channels > 0, "hidden_channels");
  need(filter_channels > 0, "filter_channels");
  need(n_heads > 0 && hidden_channels % n_heads == 0, "n_heads");
  need(n_layers >= 0, "n_layers");
  need(kernel_size > 0, "kernel_size");
  need(resblock == "1" || resblock == "2", "resblock (expected \"1\" or \"2\")");
  need(!resblock_kernel_sizes.empty() &&
           resblock_kernel_sizes.size() == resblock_dilation_sizes.size(),
       "resblock_kernel_sizes / resblock_dilation_sizes");
  for (size_t i = 0; i < resblock_kernel_sizes.size(); ++i) {
    need(resblock_kernel_sizes[i] > 0, "resblock_kernel_sizes");
    need(resblock_dilation_sizes[i].size() == (resblock == "1" ? 3u : 2u),
         "resblock_dilation_sizes (3 per block for ResBlock1, 2 for ResBlock2)");
    for (int64_t d : resblock_dilation_sizes[i]) need(d > 0, "resblock_dilation_sizes");
  }
  need(!upsample_rates.empty() && upsample_rates.size() == upsample_kernel_sizes.size(),
       "upsample_rates / upsample_kernel_sizes");
  for (size_t i = 0; i < upsample_rates.size(); ++i) {
    need(upsample_rates[i] > 0 && upsample_kernel_sizes[i] > 0 &&
             (upsample_kernel_sizes[i] - upsample_rates[i]) / 2 < upsample_kernel_sizes[i] &&
             upsample_kernel_sizes[i] >= upsample_rates[i],
         "upsample_rates / upsample_kernel_sizes");
  }
  need(upsample_initial_channel >= (int64_t{1} << upsample_rates.size()),
       "upsample_initial_channel");
  need(gin_channels >= 0, "gin_channels");
  need(!f0 || sample_rate_hz > 0, "sample_rate_hz");
}

int64_t SynthesizerConfig::samples_per_frame() const {
  int64_t p = 1;
  for (int64_t u : upsample_rates) p *= u;
  return p;
}

SynthesizerConfig SynthesizerConfig::from_voice_model(const formats::VoiceModelInfo& info) {
  const auto& s = info.config;
  SynthesizerConfig c;
  c.inter_channels = s.inter_channels;
  c.hidden_channels = s.hidden_channels;
  c.filter_channels = s.filter_channels;
  c.n_heads = s.n_heads;
  c.n_layers = s.n_layers;
  c.kernel_size = s.kernel_size;
  c.resblock = s.resblock;
  c.resblock_kernel_sizes = s.resblock_kernel_sizes;
  c.resblock_dilation_sizes = s.resblock_dilation_sizes;
  c.upsample_rates = s.upsample_rates;
  c.upsample_kernel_sizes = s.upsample_kernel_sizes;
  c.upsample_initial_channel = s.upsample_initial_channel;
  c.gin_channels = s.gin_channels;
  c.sample_rate_hz = info.sample_rate_hz > 0 ? info.sample_rate_hz : s.sampling_rate;
  c.f0 = info.has_f0;
  return c;
}

Synthesizer::Synthesizer(const SynthesizerConfig& config, const TensorMap& weights,
                         nn::Backend backend)
    : config_(config) {
  config_.validate();
  synth::Weights w(weights);
  parts_ = std::make_unique<Parts>(config_, w, backend);
  const Tensor& eg = w.get("emb_g.weight");
  if (eg.ndim() != 2 || eg.dim(1) != config_.gin_channels || eg.dim(0) <= 0) {
    fail("synthesizer weights: 'emb_g.weight' has shape ", shape_str(eg.shape()),
         ", expected [speakers, ", config_.gin_channels, "]");
  }
  parts_->emb_g = eg;
}

Synthesizer::~Synthesizer() = default;
Synthesizer::Synthesizer(Synthesizer&&) noexcept = default;
Synthesizer& Synthesizer::operator=(Synthesizer&&) noexcept = default;

int64_t Synthesizer::phone_dim() const { return parts_->enc.phone_dim(); }
int64_t Synthesizer::speakers() const { return parts_->emb_g.dim(0); }

SynthesizerWorkspace::SynthesizerWorkspace() : b_(std::make_unique<Buffers>()) {}
int64_t SynthesizerWorkspace::decoder_resblock_cuts() const { return b_ ? b_->dec.main.cuts : 0; }

void SynthesizerWorkspace::set_decoder_chunk_frames(int64_t frames) {
  decoder_chunk_frames_ = std::max<int64_t>(frames, 0);
}
SynthesizerWorkspace::~SynthesizerWorkspace() = default;
SynthesizerWorkspace::SynthesizerWorkspace(SynthesizerWorkspace&&) noexcept = default;
SynthesizerWorkspace& SynthesizerWorkspace::operator=(SynthesizerWorkspace&&) noexcept = default;

SynthesizerWorkspace Synthesizer::make_workspace(int64_t max_frames, int64_t max_decoder_frames,
                                                 const std::vector<int64_t>& decoder_plans) const {
  if (max_frames <= 0) fail("synthesizer: workspace max_frames ", max_frames, " must be > 0");
  if (max_decoder_frames < 0) max_decoder_frames = max_frames;
  SynthesizerWorkspace ws;
  ws.max_frames_ = max_frames;
  ws.max_decoder_frames_ = max_decoder_frames;
  ws.decoder_plans_.push_back(max_decoder_frames);
  for (int64_t p : decoder_plans) {
    if (p > 0 && p < max_decoder_frames) ws.decoder_plans_.push_back(p);
  }
  std::sort(ws.decoder_plans_.begin(), ws.decoder_plans_.end());
  ws.decoder_plans_.erase(std::unique(ws.decoder_plans_.begin(), ws.decoder_plans_.end()),
                          ws.decoder_plans_.end());
  // One call of the largest shape: sizes every buffer and creates the primitives.
  Tensor phone({max_frames, phone_dim()});
  std::vector<int64_t> pitch(static_cast<size_t>(max_frames), 1);
  std::vector<float> pitchf(static_cast<size_t>(max_frames), 100.f);
  SynthesizerRequest rq;
  rq.phone = &phone;
  rq.pitch = pitch.data();
  rq.pitchf = pitchf.data();
  // The largest plan first (it sizes the buffers), then each shorter decoder plan.
  for (auto it = ws.decoder_plans_.rbegin(); it != ws.decoder_plans_.rend(); ++it) {
    rq.return_length2 = *it != max_frames ? *it : -1;
    infer(rq, ws);
  }
  return ws;
}

SynthesizerResult Synthesizer::infer(const SynthesizerRequest& rq, SynthesizerWorkspace& ws) const {
  // ref: infer/lib/infer_pack/models.py SynthesizerTrnMs256NSFsid.infer (and _nono.infer)
  if (!rq.phone || rq.phone->ndim() != 2 || rq.phone->dim(1) != phone_dim() ||
      rq.phone->dim(0) <= 0) {
    fail("synthesizer: phone must be [T, ", phone_dim(), "], got ",
         rq.phone ? shape_str(rq.phone->shape()) : std::string("null"));
  }
  const int64_t t = rq.phone->dim(0);
  if (config_.f0 && (!rq.pitch || !rq.pitchf)) fail("synthesizer: pitch and pitchf required");
  if (rq.sid < 0 || rq.sid >= speakers()) {
    fail("synthesizer: sid ", rq.sid, " outside [0, ", speakers(), ")");
  }
  const int64_t length = rq.phone_length < 0 ? t : rq.phone_length;
  if (length > t || length == 0) fail("synthesizer: phone_length ", length, " not in [1, ", t, "]");
  const bool rt = rq.skip_head >= 0 || rq.return_length >= 0;
  if (rt && (rq.skip_head < 0 || rq.return_length <= 0 || rq.skip_head + rq.return_length > t)) {
    fail("synthesizer: skip_head ", rq.skip_head, " + return_length ", rq.return_length,
         " must lie within the ", t, " input frames");
  }
  if (rq.return_length2 == 0 || rq.return_length2 > 64 * t) {
    fail("synthesizer: return_length2 ", rq.return_length2, " out of range");
  }
  const float* g = parts_->emb_g.data() + rq.sid * config_.gin_channels;
  std::mt19937_64 rng(rq.seed);
  std::mt19937_64* rngp = rq.noise ? &rng : nullptr;
  SynthesizerWorkspace::Buffers& b = *ws.b_;
  const int64_t plan_t = std::max(ws.max_frames_, t);

  const int64_t ci = config_.inter_channels;
  const int64_t flow_head = rt ? std::max<int64_t>(rq.skip_head - 24, 0) : 0;
  const int64_t dec_head = rt ? rq.skip_head - flow_head : 0;
  const int64_t tf = t - flow_head, valid = length - flow_head;
  float* m_p = b.m_p.at(static_cast<size_t>(tf * ci));
  float* logs_p = b.logs_p.at(static_cast<size_t>(tf * ci));
  parts_->enc.forward(rq.phone->data(), t, config_.f0 ? rq.pitch : nullptr, length, flow_head, m_p,
                      logs_p, b.enc, plan_t);
  float* z = b.z.at(static_cast<size_t>(tf * ci));
  std::memcpy(z, m_p, sizeof(float) * tf * ci);
  if (rngp) {
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int64_t i = 0; i < tf * ci; ++i) {
      z[i] = z[i] + std::exp(logs_p[i]) * normal(rng) * 0.66666f;
    }
  }
  nn::mask_rows(z, tf, ci, valid);
  // A realtime call's flow covers only the frames from flow_head: planned at the workspace's
  // length it would run every layer on up to twice the frames (39 -> 80 for a stream block).
  // A stream's calls all have one geometry, so their flow length is fixed and the warm-up call
  // creates its primitives.
  parts_->flow.reverse(z, tf, valid, g, b.flow, rt ? tf : plan_t);
  const float* f0 = rq.pitchf;
  const int64_t dec_frames = rt ? rq.return_length : tf;
  const float* zdec = z + dec_head * ci;
  if (rt && f0) f0 += rq.skip_head;
  const int64_t dec_valid = rt ? valid - dec_head : valid;
  float* zin = b.zin.at(static_cast<size_t>(dec_frames * ci));
  std::memcpy(zin, zdec, sizeof(float) * dec_frames * ci);
  nn::mask_rows(zin, dec_frames, ci, dec_valid);
  SynthesizerResult res;
  // The decoder's primitives: those of the smallest prepared plan that fits this call.
  const int64_t need = rq.return_length2 >= 0 ? rq.return_length2 : dec_frames;
  int64_t dec_plan = need;
  for (int64_t p : ws.decoder_plans_) {
    if (p >= need) {
      dec_plan = p;
      break;
    }
  }
  res.audio = parts_->dec.forward(zin, dec_frames, f0, g, rq.return_length2, rngp, b.dec, dec_plan,
                                  &res.samples, ws.decoder_chunk_frames_, ws.decoder_split_);
  res.m_p = m_p;
  res.logs_p = logs_p;
  res.prior_frames = tf;
  res.z = zdec;
  res.z_frames = dec_frames;
  res.inter = ci;
  return res;
}

SynthesizerOutputs Synthesizer::infer(const SynthesizerRequest& rq) const {
  SynthesizerWorkspace ws;
  const SynthesizerResult r = infer(rq, ws);
  SynthesizerOutputs out;
  out.audio = Tensor({r.samples}, r.audio);
  out.m_p = Tensor({r.prior_frames, r.inter}, r.m_p);
  out.logs_p = Tensor({r.prior_frames, r.inter}, r.logs_p);
  out.z = Tensor({r.z_frames, r.inter}, r.z);
  return out;
}

}  // namespace rvc::models
