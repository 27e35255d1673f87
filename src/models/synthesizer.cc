// Synthesizer: config, construction and infer().
#include "rvc/models/synthesizer.h"

#include <cmath>
#include <cstring>
#include <random>

#include "rvc/core/error.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/ops.h"
#include "synthesizer_parts.h"

namespace rvc::models {

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

SynthesizerOutputs Synthesizer::infer(const SynthesizerRequest& rq) const {
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

  SynthesizerOutputs out;
  const int64_t flow_head = rt ? std::max<int64_t>(rq.skip_head - 24, 0) : 0;
  const int64_t dec_head = rt ? rq.skip_head - flow_head : 0;
  parts_->enc.forward(*rq.phone, config_.f0 ? rq.pitch : nullptr, length, flow_head, out.m_p,
                      out.logs_p);
  const int64_t tf = out.m_p.dim(0), ci = out.m_p.dim(1), valid = length - flow_head;
  Tensor z = out.m_p;
  if (rngp) {
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int64_t i = 0; i < z.numel(); ++i) {
      z[i] = z[i] + std::exp(out.logs_p[i]) * normal(rng) * 0.66666f;
    }
  }
  nn::mask_rows(z.data(), tf, ci, valid);
  parts_->flow.reverse(z, valid, g);
  const float* f0 = rq.pitchf;
  if (rt) {
    out.z.resize({rq.return_length, ci});
    std::memcpy(out.z.data(), z.data() + dec_head * ci, sizeof(float) * rq.return_length * ci);
    if (f0) f0 += rq.skip_head;
  } else {
    out.z = std::move(z);
  }
  const int64_t dec_valid = rt ? valid - dec_head : valid;
  Tensor zin = out.z;
  nn::mask_rows(zin.data(), zin.dim(0), ci, dec_valid);
  out.audio = parts_->dec.forward(zin, f0, g, rq.return_length2, rngp);
  return out;
}

}  // namespace rvc::models
