// Synthesizer weights access, TextEncoder and the reverse flow.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "rvc/core/error.h"
#include "rvc/nn/ops.h"
#include "synthesizer_parts.h"

namespace rvc::models::synth {

const Tensor& Weights::get(const std::string& name) const {
  auto it = m_.find(name);
  if (it == m_.end()) fail("synthesizer weights: missing tensor '", name, "'");
  return it->second;
}

const Tensor& Weights::get(const std::string& name, const Shape& expected) const {
  const Tensor& t = get(name);
  if (t.shape() != expected) {
    fail("synthesizer weights: tensor '", name, "' has shape ", shape_str(t.shape()), ", expected ",
         shape_str(expected));
  }
  return t;
}

Tensor Weights::weight(const std::string& prefix) const {
  if (has(prefix + ".weight")) return get(prefix + ".weight");
  const Tensor& g = get(prefix + ".weight_g");
  const Tensor& v = get(prefix + ".weight_v");
  if (v.ndim() < 1 || g.numel() != v.dim(0)) {
    fail("synthesizer weights: '", prefix, ".weight_g' ", shape_str(g.shape()),
         " does not match weight_v ", shape_str(v.shape()));
  }
  Tensor w(v.shape());
  int64_t n0 = v.dim(0), inner = v.numel() / std::max<int64_t>(n0, 1);
  for (int64_t i = 0; i < n0; ++i) {
    double ss = 0.0;
    for (int64_t j = 0; j < inner; ++j) ss += double(v[i * inner + j]) * v[i * inner + j];
    float s = g[i] / static_cast<float>(std::sqrt(ss));
    for (int64_t j = 0; j < inner; ++j) w[i * inner + j] = v[i * inner + j] * s;
  }
  return w;
}

TextEncoder::TextEncoder(const SynthesizerConfig& c, const Weights& w, nn::Backend b)
    : hidden_(c.hidden_channels), inter_(c.inter_channels) {
  const std::string p = "enc_p.";
  const Tensor& ew = w.get(p + "emb_phone.weight");
  if (ew.ndim() != 2 || ew.dim(0) != hidden_) {
    fail("synthesizer weights: 'enc_p.emb_phone.weight' has shape ", shape_str(ew.shape()),
         ", expected [", hidden_, ", 256 or 768]");
  }
  emb_phone_ = nn::Linear(ew, &w.get(p + "emb_phone.bias", {hidden_}), b);
  if (c.f0) emb_pitch_ = w.get(p + "emb_pitch.weight", {256, hidden_});
  const int64_t h = hidden_, f = c.filter_channels, k = c.kernel_size;
  for (int64_t i = 0; i < c.n_layers; ++i) {
    std::string a = p + "encoder.attn_layers." + std::to_string(i) + ".";
    std::string s = std::to_string(i);
    Layer l;
    l.attn = nn::RelPosSelfAttention(
        w.get(a + "conv_q.weight", {h, h, 1}), w.get(a + "conv_q.bias", {h}),
        w.get(a + "conv_k.weight", {h, h, 1}), w.get(a + "conv_k.bias", {h}),
        w.get(a + "conv_v.weight", {h, h, 1}), w.get(a + "conv_v.bias", {h}),
        w.get(a + "conv_o.weight", {h, h, 1}), w.get(a + "conv_o.bias", {h}),
        w.get(a + "emb_rel_k"), w.get(a + "emb_rel_v"), c.n_heads, b);
    l.ln1_g = w.get(p + "encoder.norm_layers_1." + s + ".gamma", {h});
    l.ln1_b = w.get(p + "encoder.norm_layers_1." + s + ".beta", {h});
    l.ln2_g = w.get(p + "encoder.norm_layers_2." + s + ".gamma", {h});
    l.ln2_b = w.get(p + "encoder.norm_layers_2." + s + ".beta", {h});
    // FFN "same" padding: left (k-1)/2, right k/2; ReLU between the convs.
    std::string fp = p + "encoder.ffn_layers." + s + ".";
    nn::Conv1dParams c1{h, f, k};
    c1.pad_left = (k - 1) / 2;
    c1.pad_right = k / 2;
    c1.post = nn::PostOp::kRelu;
    nn::Conv1dParams c2 = c1;
    c2.in_channels = f;
    c2.out_channels = h;
    c2.post = nn::PostOp::kNone;
    l.ffn1 = nn::Conv1d(c1, w.get(fp + "conv_1.weight"), &w.get(fp + "conv_1.bias"), b);
    l.ffn2 = nn::Conv1d(c2, w.get(fp + "conv_2.weight"), &w.get(fp + "conv_2.bias"), b);
    layers_.push_back(std::move(l));
  }
  proj_ = nn::Linear(w.get(p + "proj.weight", {2 * inter_, h, 1}),
                     &w.get(p + "proj.bias", {2 * inter_}), b);
}

void TextEncoder::forward(const float* phone, int64_t t, const int64_t* pitch, int64_t length,
                          int64_t head, float* m, float* logs, EncoderScratch& s,
                          int64_t plan_t) const {
  // ref: infer/lib/infer_pack/models.py TextEncoder.forward
  const int64_t h = hidden_;
  if (pitch) {
    for (int64_t i = 0; i < t; ++i) {
      if (pitch[i] < 0 || pitch[i] >= 256)
        fail("synthesizer: pitch[", i, "] = ", pitch[i], " outside [0, 256)");
    }
  }
  int64_t f = 0;
  for (const Layer& l : layers_) f = std::max(f, l.ffn1.params().out_channels);
  float* x = s.x.at(static_cast<size_t>(t * h));
  float* y = s.y.at(static_cast<size_t>(t * h));
  float* ff = s.ff.at(static_cast<size_t>(t * std::max<int64_t>(f, 1)));
  emb_phone_.forward(phone, t, x);
  if (pitch) {
    for (int64_t i = 0; i < t; ++i) {
      const float* e = emb_pitch_.data() + pitch[i] * h;
      for (int64_t c = 0; c < h; ++c) x[i * h + c] += e[c];
    }
  }
  const float sq = static_cast<float>(std::sqrt(static_cast<double>(h)));
  for (int64_t i = 0; i < t * h; ++i) {
    float v = x[i] * sq;
    x[i] = v < 0.f ? v * 0.1f : v;
  }
  nn::mask_rows(x, t, h, length);
  const nn::ConvEpilogue plain;
  // ref: infer/lib/infer_pack/attentions.py Encoder.forward (post-LN)
  for (const Layer& l : layers_) {
    l.attn.forward(x, t, length, y);
    nn::add(x, y, y, static_cast<size_t>(t * h));
    nn::layer_norm(y, x, t, h, l.ln1_g.data(), l.ln1_b.data());
    nn::mask_rows(x, t, h, length);  // FFN input is x * x_mask
    l.ffn1.forward(x, t, ff, plain, plan_t);
    nn::mask_rows(ff, t, l.ffn1.params().out_channels, length);
    l.ffn2.forward(ff, t, y, plain, plan_t);
    nn::mask_rows(y, t, h, length);
    nn::add(x, y, y, static_cast<size_t>(t * h));
    nn::layer_norm(y, x, t, h, l.ln2_g.data(), l.ln2_b.data());
  }
  nn::mask_rows(x, t, h, length);
  const int64_t tt = t - head;
  float* stats = s.stats.at(static_cast<size_t>(tt * 2 * inter_));
  proj_.forward(x + head * h, tt, stats);
  nn::mask_rows(stats, tt, 2 * inter_, length - head);
  for (int64_t i = 0; i < tt; ++i) {
    std::memcpy(m + i * inter_, stats + i * 2 * inter_, sizeof(float) * inter_);
    std::memcpy(logs + i * inter_, stats + i * 2 * inter_ + inter_, sizeof(float) * inter_);
  }
}

Flow::Flow(const SynthesizerConfig& c, const Weights& w, nn::Backend b)
    : channels_(c.inter_channels),
      half_(c.inter_channels / 2),
      hidden_(c.hidden_channels),
      backend_(b) {
  // ref: models.py ResidualCouplingBlock(inter, hidden, 5, 1, 3, gin): flows at even indices.
  const int64_t h = hidden_;
  for (int fi = 0;; fi += 2) {
    std::string p = "flow.flows." + std::to_string(fi) + ".";
    if (!w.has(p + "pre.weight")) break;
    Coupling cp;
    cp.pre = nn::Linear(w.get(p + "pre.weight", {h, half_, 1}), &w.get(p + "pre.bias", {h}), b);
    cp.post =
        nn::Linear(w.get(p + "post.weight", {half_, h, 1}), &w.get(p + "post.bias", {half_}), b);
    int64_t n_layers = 0;
    while (w.has(p + "enc.in_layers." + std::to_string(n_layers) + ".bias")) ++n_layers;
    if (n_layers == 0) fail("synthesizer weights: '", p, "enc.in_layers.0' missing");
    if (c.gin_channels > 0) {
      Tensor cw = w.weight(p + "enc.cond_layer");
      cp.cond = nn::Linear(cw, &w.get(p + "enc.cond_layer.bias", {2 * h * n_layers}),
                           nn::Backend::kReference);
    }
    for (int64_t i = 0; i < n_layers; ++i) {
      std::string s = std::to_string(i);
      Tensor iw = w.weight(p + "enc.in_layers." + s);
      if (iw.ndim() != 3 || iw.dim(0) != 2 * h || iw.dim(1) != h || iw.dim(2) % 2 != 1) {
        fail("synthesizer weights: '", p, "enc.in_layers.", s, "' has shape ",
             shape_str(iw.shape()));
      }
      // dilation_rate is 1 in every upstream synthesizer (ResidualCouplingBlock(..., 5, 1, ...)).
      nn::Conv1dParams cpar{h, 2 * h, iw.dim(2)};
      cpar.pad((iw.dim(2) - 1) / 2);
      cp.in_layers.emplace_back(cpar, iw, &w.get(p + "enc.in_layers." + s + ".bias", {2 * h}), b);
      Tensor rw = w.weight(p + "enc.res_skip_layers." + s);
      int64_t rs = i + 1 < n_layers ? 2 * h : h;
      cp.res_skip.emplace_back(rw, &w.get(p + "enc.res_skip_layers." + s + ".bias", {rs}), b);
      if (cp.res_skip.back().out_features() != rs) {
        fail("synthesizer weights: '", p, "enc.res_skip_layers.", s, "' has ",
             cp.res_skip.back().out_features(), " outputs, expected ", rs);
      }
    }
    flows_.push_back(std::move(cp));
  }
  if (flows_.empty()) fail("synthesizer weights: missing tensor 'flow.flows.0.pre.weight'");
}

void Flow::reverse(float* x, int64_t t, int64_t valid, const float* g, FlowScratch& s,
                   int64_t plan_t) const {
  // ref: modules.py ResidualCouplingLayer.forward(reverse=True), WN.forward, Flip
  const int64_t c = channels_, hf = half_, h = hidden_;
  int64_t max_layers = 0;
  for (const Coupling& cp : flows_) {
    max_layers = std::max<int64_t>(max_layers, static_cast<int64_t>(cp.in_layers.size()));
  }
  float* x0 = s.x0.at(static_cast<size_t>(t * hf));
  float* hbuf = s.hbuf.at(static_cast<size_t>(t * h));
  float* xin = s.xin.at(static_cast<size_t>(t * 2 * h));
  float* acts = s.acts.at(static_cast<size_t>(t * h));
  float* rs = s.rs.at(static_cast<size_t>(t * 2 * h));
  float* out = s.out.at(static_cast<size_t>(t * h));
  float* stats = s.stats.at(static_cast<size_t>(t * hf));
  float* gc = s.gc.at(static_cast<size_t>(2 * h * max_layers));
  const nn::ConvEpilogue plain;
  for (auto it = flows_.rbegin(); it != flows_.rend(); ++it) {
    const Coupling& cp = *it;
    // Flip (reverse the channel order), then the coupling layer in reverse.
    for (int64_t i = 0; i < t; ++i) {
      float* r = x + i * c;
      for (int64_t a = 0, bb = c - 1; a < bb; ++a, --bb) std::swap(r[a], r[bb]);
      std::memcpy(x0 + i * hf, r, sizeof(float) * hf);
    }
    const int64_t n_layers = static_cast<int64_t>(cp.in_layers.size());
    if (g) {
      cp.cond.forward(g, 1, gc);
    } else {
      std::memset(gc, 0, sizeof(float) * 2 * h * n_layers);
    }
    cp.pre.forward(x0, t, hbuf);
    nn::mask_rows(hbuf, t, h, valid);
    std::memset(out, 0, sizeof(float) * t * h);
    for (int64_t l = 0; l < n_layers; ++l) {
      cp.in_layers[l].forward(hbuf, t, xin, plain, plan_t);
      const float* gl = gc + l * 2 * h;
      for (int64_t i = 0; i < t; ++i) {
        const float* xr = xin + i * 2 * h;
        nn::tanh_sigmoid_gate(xr, xr + h, gl, gl + h, acts + i * h, h, backend_);
      }
      cp.res_skip[l].forward(acts, t, rs);
      if (l + 1 < n_layers) {
        for (int64_t i = 0; i < t; ++i) {
          float* hr = hbuf + i * h;
          const float* rr = rs + i * 2 * h;
          float* orow = out + i * h;
          const bool keep = i < valid;
          for (int64_t ch = 0; ch < h; ++ch) {
            hr[ch] = keep ? hr[ch] + rr[ch] : 0.f;
            orow[ch] += rr[h + ch];
          }
        }
      } else {
        for (int64_t i = 0; i < t * h; ++i) out[i] += rs[i];
      }
    }
    nn::mask_rows(out, t, h, valid);
    cp.post.forward(out, t, stats);
    nn::mask_rows(stats, t, hf, valid);
    for (int64_t i = 0; i < t; ++i) {
      float* x1 = x + i * c + hf;
      const float* m = stats + i * hf;
      const bool keep = i < valid;
      for (int64_t ch = 0; ch < c - hf; ++ch) x1[ch] = keep ? (x1[ch] - m[ch]) : 0.f;
    }
  }
}

}  // namespace rvc::models::synth
