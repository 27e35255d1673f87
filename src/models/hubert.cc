// Hubert: weights -> layers at construction, and forward().
#include "rvc/models/hubert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "hubert_parts.h"
#include "rvc/core/error.h"
#include "rvc/nn/attention.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/grouped_conv1d.h"
#include "rvc/nn/linear.h"
#include "rvc/nn/ops.h"

namespace rvc::models {

using hubert::ConvLayer;
using hubert::EncoderLayer;
using hubert::FloatBuf;
using hubert::Norm;

namespace {

class WeightTable {
 public:
  explicit WeightTable(const TensorMap& w) : w_(w) {}
  const Tensor& get(const std::string& name, const Shape& shape) const {
    const Tensor* t = find(name);
    if (!t) fail("hubert weights: missing tensor '", name, "'");
    if (t->shape() != shape) {
      fail("hubert weights: tensor '", name, "' has shape ", shape_str(t->shape()), ", expected ",
           shape_str(shape));
    }
    return *t;
  }
  const Tensor* find(const std::string& name) const {
    auto it = w_.find(name);
    return it == w_.end() ? nullptr : &it->second;
  }
  Norm norm(const std::string& prefix, int64_t c) const {
    return Norm{get(prefix + ".weight", {c}), get(prefix + ".bias", {c})};
  }
  nn::Linear linear(const std::string& prefix, int64_t out, int64_t in, nn::Backend b) const {
    return nn::Linear(get(prefix + ".weight", {out, in}), &get(prefix + ".bias", {out}), b);
  }

 private:
  const TensorMap& w_;
};

// weight_norm(dim=2): w[o][i][k] = g[k] * v[o][i][k] / ||v[:, :, k]||.
// ref: torch.nn.utils.weight_norm, _weight_norm(v, g, dim=2)
Tensor fold_weight_norm_dim2(const Tensor& g, const Tensor& v) {
  const int64_t o = v.dim(0), i = v.dim(1), k = v.dim(2);
  std::vector<double> sq(static_cast<size_t>(k), 0.0);
  for (int64_t a = 0; a < o * i; ++a) {
    for (int64_t t = 0; t < k; ++t) {
      const double x = v[a * k + t];
      sq[static_cast<size_t>(t)] += x * x;
    }
  }
  Tensor w(v.shape());
  for (int64_t a = 0; a < o * i; ++a) {
    for (int64_t t = 0; t < k; ++t) {
      const double n = std::sqrt(sq[static_cast<size_t>(t)]);
      w[a * k + t] = static_cast<float>(g[t] * (v[a * k + t] / n));
    }
  }
  return w;
}

}  // namespace

struct Hubert::Net {
  nn::Backend backend = nn::Backend::kFast;
  std::vector<ConvLayer> convs;
  std::unique_ptr<hubert::ConvStack> stack;  // refers to convs
  bool group_norm = false;  // convs[0].norm is a per-channel GroupNorm (else LayerNorm per frame)
  Norm feat_norm;           // layer_norm over conv channels
  bool has_proj = false;
  nn::Linear post_proj;
  nn::GroupedConv1d pos_conv;
  Norm enc_norm;
  std::vector<EncoderLayer> layers;
  bool has_final = false;
  nn::Linear final_proj;
};

Hubert::Hubert(formats::HubertInfo info, nn::Backend backend) {
  hp_.layers = info.layers;
  hp_.embedding_dim = info.embedding_dim;
  hp_.heads = info.heads;
  hp_.ffn_dim = info.ffn_dim;
  hp_.final_dim = info.final_dim;
  hp_.conv_layers = info.conv_layers;
  hp_.extractor_mode = info.extractor_mode;
  hp_.layer_norm_first = info.layer_norm_first;
  hp_.conv_pos = info.conv_pos;
  hp_.conv_pos_groups = info.conv_pos_groups;
  const int64_t e = hp_.embedding_dim;
  if (hp_.conv_layers.empty()) fail("hubert: empty conv_feature_layers");
  if (e <= 0 || hp_.heads <= 0 || e % hp_.heads != 0) {
    fail("hubert: encoder_embed_dim ", e, " not divisible by ", hp_.heads, " heads");
  }
  if (hp_.layers <= 0 || hp_.ffn_dim <= 0) fail("hubert: invalid encoder_layers / ffn dim");
  if (hp_.conv_pos <= 0 || hp_.conv_pos_groups <= 0 || e % hp_.conv_pos_groups != 0) {
    fail("hubert: conv_pos ", hp_.conv_pos, " / conv_pos_groups ", hp_.conv_pos_groups,
         " invalid for ", e, " channels");
  }
  if (hp_.extractor_mode != "default" && hp_.extractor_mode != "layer_norm") {
    fail("hubert: extractor_mode '", hp_.extractor_mode, "' unsupported");
  }
  const WeightTable w(info.weights);
  net_ = std::make_unique<Net>();
  Net& n = *net_;
  n.backend = backend;
  // ref: wav2vec2.py ConvFeatureExtractionModel (block = conv, dropout, norm, GELU)
  n.group_norm = hp_.extractor_mode == "default";
  int64_t in = 1;
  for (size_t i = 0; i < hp_.conv_layers.size(); ++i) {
    const auto& l = hp_.conv_layers[i];
    if (l.channels <= 0 || l.kernel <= 0 || l.stride <= 0) fail("hubert: bad conv layer ", i);
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    nn::Conv1dParams cp;
    cp.in_channels = in;
    cp.out_channels = l.channels;
    cp.kernel = l.kernel;
    cp.stride = l.stride;
    const Tensor* bias = w.find(p + ".0.bias");  // conv_bias=True checkpoints
    if (bias) bias = &w.get(p + ".0.bias", {l.channels});
    const Tensor& weight = w.get(p + ".0.weight", {l.channels, in, l.kernel});
    ConvLayer cl{nn::Conv1d(cp, weight, bias, nn::Backend::kReference),
                 Norm{},
                 in == 1 ? hubert::conv_taps(weight) : Tensor(),
                 bias ? *bias : Tensor(),
                 {}};
    for (int64_t j0 = 0; backend == nn::Backend::kFast && j0 < l.kernel; j0 += l.stride) {
      const int64_t j1 = std::min(l.kernel, j0 + l.stride);
      cl.patches.emplace_back(hubert::patch_weight(weight, j0, j1), j0 == 0 ? bias : nullptr,
                              nn::Backend::kFast);
    }
    if (n.group_norm && i == 0) {
      cl.norm = w.norm(p + ".2", l.channels);
    } else if (!n.group_norm) {
      cl.norm = w.norm(p + ".2.1", l.channels);
    }
    n.convs.push_back(std::move(cl));
    in = l.channels;
  }
  const int64_t c_conv = in;
  n.stack = std::make_unique<hubert::ConvStack>(n.convs, n.group_norm, backend);
  n.feat_norm = w.norm("layer_norm", c_conv);
  n.has_proj = w.find("post_extract_proj.weight") != nullptr;
  if (n.has_proj) {
    n.post_proj = w.linear("post_extract_proj", e, c_conv, backend);
  } else if (c_conv != e) {
    fail("hubert weights: missing tensor 'post_extract_proj.weight' (conv channels ", c_conv,
         " != encoder_embed_dim ", e, ")");
  }
  // ref: wav2vec2.py TransformerEncoder.__init__ pos_conv (weight_norm dim=2, SamePad, GELU)
  {
    const int64_t k = hp_.conv_pos, g = hp_.conv_pos_groups;
    const Tensor& wg = w.get("encoder.pos_conv.0.weight_g", {1, 1, k});
    const Tensor& wv = w.get("encoder.pos_conv.0.weight_v", {e, e / g, k});
    const Tensor& b = w.get("encoder.pos_conv.0.bias", {e});
    nn::Conv1dParams cp;
    cp.in_channels = cp.out_channels = e;
    cp.kernel = k;
    cp.groups = g;
    // padding k/2 on both sides, then SamePad drops the last frame for even k: T frames out.
    cp.pad_left = k / 2;
    cp.pad_right = k / 2 - (k % 2 == 0 ? 1 : 0);
    n.pos_conv = nn::GroupedConv1d(cp, fold_weight_norm_dim2(wg, wv), &b, backend);
  }
  n.enc_norm = w.norm("encoder.layer_norm", e);
  for (int64_t i = 0; i < hp_.layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i);
    const std::string a = p + ".self_attn.";
    auto wt = [&](const std::string& s) -> const Tensor& {
      return w.get(a + s + ".weight", {e, e});
    };
    auto bt = [&](const std::string& s) -> const Tensor& { return w.get(a + s + ".bias", {e}); };
    n.layers.push_back(EncoderLayer{
        nn::MultiHeadAttention(wt("q_proj"), bt("q_proj"), wt("k_proj"), bt("k_proj"), wt("v_proj"),
                               bt("v_proj"), wt("out_proj"), bt("out_proj"), hp_.heads, backend),
        w.norm(p + ".self_attn_layer_norm", e), w.linear(p + ".fc1", hp_.ffn_dim, e, backend),
        w.linear(p + ".fc2", e, hp_.ffn_dim, backend), w.norm(p + ".final_layer_norm", e)});
  }
  n.has_final = hp_.final_dim > 0 && w.find("final_proj.weight") != nullptr;
  if (n.has_final) n.final_proj = w.linear("final_proj", hp_.final_dim, e, backend);
}

Hubert::~Hubert() = default;
Hubert::Hubert(Hubert&&) noexcept = default;
Hubert& Hubert::operator=(Hubert&&) noexcept = default;

int64_t Hubert::output_dim(bool apply_final_proj) const {
  return apply_final_proj ? hp_.final_dim : hp_.embedding_dim;
}

int64_t Hubert::frames(int64_t n_samples) const { return net_->stack->frames(n_samples); }

int64_t Hubert::hop_samples() const {
  int64_t h = 1;
  for (const auto& l : hp_.conv_layers) h *= l.stride;
  return h;
}

struct HubertWorkspace::Impl {
  int64_t max_samples = 0, max_frames = 0;
  hubert::ConvWork conv;
  hubert::FloatBuf feat, x, pos;  // [T][C_conv], [T][E], [T][E]
  hubert::LayerScratch layers;
  hubert::FloatBuf zeros, warm_out;  // prepare()'s pass on silence
};

HubertWorkspace::HubertWorkspace() = default;
HubertWorkspace::~HubertWorkspace() = default;
HubertWorkspace::HubertWorkspace(HubertWorkspace&&) noexcept = default;
HubertWorkspace& HubertWorkspace::operator=(HubertWorkspace&&) noexcept = default;
int64_t HubertWorkspace::max_samples() const { return impl_ ? impl_->max_samples : 0; }

HubertWorkspace Hubert::make_workspace(int64_t max_samples) const {
  const int64_t t = frames(max_samples);
  if (t <= 0) fail("hubert: ", max_samples, " samples are too short for one frame");
  HubertWorkspace ws;
  ws.impl_ = std::make_unique<HubertWorkspace::Impl>();
  HubertWorkspace::Impl& w = *ws.impl_;
  w.max_samples = max_samples;
  w.max_frames = t;
  const Net& net = *net_;
  const int64_t e = hp_.embedding_dim;
  net.stack->reserve(w.conv, nn::num_threads());
  w.feat.ensure(static_cast<size_t>(t * net.stack->out_channels()));
  w.x.ensure(static_cast<size_t>(t * e));
  w.pos.ensure(static_cast<size_t>(t * e));
  w.layers.reserve(t, e, hp_.ffn_dim);
  prepare_primitives(t);
  return ws;
}

void Hubert::prepare_primitives(int64_t t) const {
  const Net& net = *net_;
  if (net.has_proj) net.post_proj.prepare(t);
  net.pos_conv.prepare(t);
  for (const auto& l : net.layers) {
    l.attn.prepare(t);
    l.fc1.prepare(t);
    l.fc2.prepare(t, /*accumulate=*/true);
  }
  if (net.has_final) net.final_proj.prepare(t);
}

void Hubert::prepare(HubertWorkspace& ws, int64_t n) const {
  const int64_t t = frames(n);
  if (!ws.impl_ || n > ws.impl_->max_samples || t <= 0) {
    fail("hubert: cannot prepare ", n, " samples in a workspace for ", ws.max_samples());
  }
  // One pass on silence through every layer creates the primitives, this thread's scratch and
  // its bound oneDNN memory objects for this length.
  prepare_primitives(t);
  FloatBuf& zeros = ws.impl_->zeros;
  zeros.ensure(static_cast<size_t>(n));
  std::fill(zeros.data(), zeros.data() + n, 0.f);
  FloatBuf& out = ws.impl_->warm_out;
  out.ensure(static_cast<size_t>(t * std::max(hp_.embedding_dim, hp_.final_dim)));
  run(zeros.data(), n, 0, false, *ws.impl_, out.data(), nullptr);
  if (net_->has_final) run(zeros.data(), n, 0, true, *ws.impl_, out.data(), nullptr);
}

Tensor Hubert::forward(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
                       HubertIntermediates* debug) const {
  if (frames(n) <= 0) fail("hubert: ", n, " samples are too short for one frame");
  if (apply_final_proj && !net_->has_final) {
    fail("hubert: final_proj requested but not in weights");
  }
  HubertWorkspace ws = make_workspace(n);
  Tensor y({frames(n), output_dim(apply_final_proj)});
  run(wav16k, n, output_layer, apply_final_proj, *ws.impl_, y.data(), debug);
  return y;
}

void Hubert::forward(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
                     HubertWorkspace& ws, float* out) const {
  if (!ws.impl_ || n > ws.impl_->max_samples) {
    fail("hubert: ", n, " samples exceed the workspace's ", ws.max_samples());
  }
  run(wav16k, n, output_layer, apply_final_proj, *ws.impl_, out, nullptr);
}

void Hubert::extract(const float* wav16k, int64_t n, HubertWorkspace& ws) const {
  if (!ws.impl_ || n > ws.impl_->max_samples) {
    fail("hubert: ", n, " samples exceed the workspace's ", ws.max_samples());
  }
  run_extract(wav16k, n, *ws.impl_, nullptr);
}

void Hubert::encode(int64_t n, int output_layer, bool apply_final_proj, HubertWorkspace& ws,
                    float* out) const {
  if (!ws.impl_ || n > ws.impl_->max_samples) {
    fail("hubert: ", n, " samples exceed the workspace's ", ws.max_samples());
  }
  run_encode(n, output_layer, apply_final_proj, *ws.impl_, out, nullptr);
}

void Hubert::run(const float* wav16k, int64_t n, int output_layer, bool apply_final_proj,
                 HubertWorkspace::Impl& ws, float* out, HubertIntermediates* debug) const {
  run_extract(wav16k, n, ws, debug);
  run_encode(n, output_layer, apply_final_proj, ws, out, debug);
}

void Hubert::run_extract(const float* wav16k, int64_t n, HubertWorkspace::Impl& ws,
                         HubertIntermediates* debug) const {
  const Net& net = *net_;
  const int64_t t = frames(n);
  if (t <= 0) fail("hubert: ", n, " samples are too short for one frame");
  // ref: hubert.py HubertModel.extract_features -> forward_features
  net.stack->forward(wav16k, n, ws.feat.data(), ws.conv);
  if (debug) debug->conv_features = Tensor({t, net.stack->out_channels()}, ws.feat.data());
}

void Hubert::run_encode(int64_t n, int output_layer, bool apply_final_proj,
                        HubertWorkspace::Impl& ws, float* out, HubertIntermediates* debug) const {
  const Net& net = *net_;
  const int64_t t = frames(n);
  if (t <= 0) fail("hubert: ", n, " samples are too short for one frame");
  if (apply_final_proj && !net.has_final) fail("hubert: final_proj requested but not in weights");
  const int64_t e = hp_.embedding_dim;
  float* feat = ws.feat.data();
  const int64_t c_conv = net.stack->out_channels();
  nn::layer_norm(feat, feat, t, c_conv, net.feat_norm.gamma.data(), net.feat_norm.beta.data());
  float* x = feat;
  if (net.has_proj) {
    x = ws.x.data();
    net.post_proj.forward(feat, t, x);
  }
  if (debug) debug->post_extract = Tensor({t, e}, x);
  // ref: wav2vec2.py TransformerEncoder.extract_features
  {
    float* pos = ws.pos.data();
    net.pos_conv.forward(x, t, pos);
    hubert::gelu(pos, static_cast<size_t>(t * e), net.backend);
    nn::add(x, pos, x, static_cast<size_t>(t * e));
  }
  if (!hp_.layer_norm_first) {
    nn::layer_norm(x, x, t, e, net.enc_norm.gamma.data(), net.enc_norm.beta.data());
  }
  const int64_t n_run =
      output_layer <= 0 ? hp_.layers : std::min<int64_t>(output_layer, hp_.layers);
  for (int64_t i = 0; i < n_run; ++i) {
    hubert::encoder_layer(net.layers[static_cast<size_t>(i)], hp_.layer_norm_first, x, t, e,
                          ws.layers, net.backend);
    if (debug) debug->layers.push_back(Tensor({t, e}, x));
  }
  if (hp_.layer_norm_first && output_layer <= 0) {
    nn::layer_norm(x, x, t, e, net.enc_norm.gamma.data(), net.enc_norm.beta.data());
  }
  if (apply_final_proj) {
    net.final_proj.forward(x, t, out);
  } else {
    std::memcpy(out, x, sizeof(float) * static_cast<size_t>(t * e));
  }
}

}  // namespace rvc::models
