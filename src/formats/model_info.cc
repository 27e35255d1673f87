// Typed views of RVC voice, HuBERT and RMVPE checkpoints.
#include "rvc/formats/model_info.h"

#include <cctype>
#include <set>

#include "rvc/core/error.h"

namespace rvc::formats {
namespace {

const TorchTensor* find_tensor(PyRef dict, const std::string& key) {
  if (!dict || !dict->is_dict()) return nullptr;
  PyRef v = dict->find(key);
  return v && v->is(PyKind::kTensor) ? &v->tensor() : nullptr;
}

const TorchTensor& need_tensor(PyRef dict, const std::string& key, size_t ndim) {
  const TorchTensor* t = find_tensor(dict, key);
  if (!t) fail("missing tensor '", key, "'");
  if (t->shape.size() != ndim) {
    fail("tensor '", key, "': expected ", ndim, " dims, got shape ", shape_str(t->shape));
  }
  return *t;
}

bool has_prefix(PyRef dict, const std::string& prefix) {
  for (const auto& [k, v] : dict->entries()) {
    if (k->is(PyKind::kStr) && k->as_str().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// JSON form of config values (ints, floats, strings, nested lists). Depth-bounded.
nlohmann::json to_json(PyRef v, int depth = 0) {
  if (depth > 32) fail("config value nested too deeply");
  switch (v->kind()) {
    case PyKind::kNone:
      return nullptr;
    case PyKind::kBool:
      return v->as_bool();
    case PyKind::kInt:
      return v->as_int();
    case PyKind::kFloat:
      return v->as_float();
    case PyKind::kStr:
      return v->as_str();
    case PyKind::kList:
    case PyKind::kTuple: {
      nlohmann::json a = nlohmann::json::array();
      for (PyRef x : v->items()) a.push_back(to_json(x, depth + 1));
      return a;
    }
    default:
      fail("unexpected ", kind_name(v->kind()), " in config");
  }
}

std::vector<int64_t> int_list(PyRef v) {
  if (!v->is_sequence()) fail("expected a list of ints, got ", kind_name(v->kind()));
  std::vector<int64_t> out;
  for (PyRef x : v->items()) out.push_back(x->as_int());
  return out;
}

int64_t count_indexed(PyRef dict, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (dict->find(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

}  // namespace

DetectedKind detect_kind(const Checkpoint& ck) {
  PyRef r = ck.root();
  if (!r || !r->is_dict()) {
    return {ModelKind::kUnknown, "unknown",
            std::string("top-level value is a ") + (r ? kind_name(r->kind()) : "nothing") +
                ", not a dict"};
  }
  PyRef w = r->find("weight");
  PyRef cfg = r->find("config");
  if (w && w->is_dict() && cfg && cfg->is_sequence()) {
    return {ModelKind::kRvcVoice, "rvc-voice", "dict with 'weight' state dict and 'config' list"};
  }
  PyRef m = r->find("model");
  if (m && m->is_dict() && has_prefix(m, "feature_extractor.conv_layers.") &&
      (r->find("cfg") || r->find("args"))) {
    return {ModelKind::kHubert, "hubert", "fairseq checkpoint with a conv feature extractor"};
  }
  if (find_tensor(r, "unet.encoder.bn.weight") && find_tensor(r, "cnn.weight") &&
      has_prefix(r, "fc.0.gru.")) {
    return {ModelKind::kRmvpe, "rmvpe", "state dict of an RMVPE E2E model"};
  }
  return {ModelKind::kUnknown, "unknown",
          "no 'weight'+'config' (RVC voice), 'model'+'cfg'/'args' (fairseq HuBERT) or "
          "'unet.*'+'cnn.*'+'fc.0.gru.*' (RMVPE) keys"};
}

VoiceModelInfo read_voice_model(const Checkpoint& ck, bool with_weights) {
  return with_context(ck.path(), [&] {
    PyRef r = ck.root();
    if (!r->is_dict()) fail("not an RVC voice model: top level is a ", kind_name(r->kind()));
    VoiceModelInfo info;
    PyRef weight = r->at("weight");
    if (!weight->is_dict()) fail("'weight' is a ", kind_name(weight->kind()), ", not a dict");
    PyRef cfg = r->at("config");
    if (!cfg->is_sequence() || cfg->items().size() != 18) {
      fail("'config' must be a list of 18 values, got ", cfg->repr(120));
    }
    info.config_json = to_json(cfg);
    const auto& c = cfg->items();
    SynthConfig& s = info.config;
    with_context("config", [&] {
      s.spec_channels = c[0]->as_int();
      s.segment_size = c[1]->as_int();
      s.inter_channels = c[2]->as_int();
      s.hidden_channels = c[3]->as_int();
      s.filter_channels = c[4]->as_int();
      s.n_heads = c[5]->as_int();
      s.n_layers = c[6]->as_int();
      s.kernel_size = c[7]->as_int();
      s.p_dropout = c[8]->as_float();
      s.resblock = c[9]->as_str();
      s.resblock_kernel_sizes = int_list(c[10]);
      if (!c[11]->is_sequence()) fail("resblock_dilation_sizes is not a list");
      for (PyRef d : c[11]->items()) s.resblock_dilation_sizes.push_back(int_list(d));
      s.upsample_rates = int_list(c[12]);
      s.upsample_initial_channel = c[13]->as_int();
      s.upsample_kernel_sizes = int_list(c[14]);
      s.spk_embed_dim = c[15]->as_int();
      s.gin_channels = c[16]->as_int();
      s.sampling_rate = c[17]->as_int();
      return 0;
    });
    if (s.sampling_rate <= 0) fail("config sampling rate ", s.sampling_rate, " is not positive");
    if (s.upsample_rates.size() != s.upsample_kernel_sizes.size()) {
      fail("config: ", s.upsample_rates.size(), " upsample rates but ",
           s.upsample_kernel_sizes.size(), " upsample kernel sizes");
    }
    info.sample_rate_hz = s.sampling_rate;
    if (PyRef sr = r->find("sr")) {
      info.sr = sr->as_str();
      // "40k" -> 40000; "48k" -> 48000. A mismatch means a damaged or hand-edited file.
      if (!info.sr.empty() && info.sr.back() == 'k') {
        const std::string digits = info.sr.substr(0, info.sr.size() - 1);
        if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
            digits.size() < 6 && std::stoll(digits) * 1000 != s.sampling_rate) {
          fail("'sr' is '", info.sr, "' but config sampling rate is ", s.sampling_rate);
        }
      }
    }
    PyRef f0 = r->find("f0");
    info.has_f0 = f0 ? with_context("'f0'", [&] { return f0->as_int() != 0; }) : true;
    PyRef ver = r->find("version");
    info.version = ver ? ver->as_str() : "v1";
    if (info.version != "v1" && info.version != "v2") {
      fail("'version' is '", info.version, "', expected 'v1' or 'v2'");
    }
    if (PyRef i = r->find("info"); i && i->is(PyKind::kStr)) info.info = i->as_str();
    const TorchTensor& emb_g = need_tensor(weight, "emb_g.weight", 2);
    info.speakers = emb_g.shape[0];
    s.spk_embed_dim = info.speakers;  // as upstream get_vc: cpt["config"][-3] = emb_g rows
    const TorchTensor& emb_phone = need_tensor(weight, "enc_p.emb_phone.weight", 2);
    info.embedding_dim = emb_phone.shape[1];
    const int64_t want_dim = info.version == "v1" ? 256 : 768;
    if (info.embedding_dim != want_dim) {
      fail("enc_p.emb_phone.weight has ", info.embedding_dim, " input features but version ",
           info.version, " needs ", want_dim);
    }
    if (emb_g.shape[1] != s.gin_channels) {
      fail("emb_g.weight has width ", emb_g.shape[1], " but config gin_channels is ",
           s.gin_channels);
    }
    if (info.has_f0 && !find_tensor(weight, "enc_p.emb_pitch.weight")) {
      fail("f0 model without tensor 'enc_p.emb_pitch.weight'");
    }
    if (with_weights) info.weights = state_dict_to_tensors(weight);
    return info;
  });
}

std::vector<ConvLayerSpec> parse_conv_feature_layers(const std::string& expr) {
  size_t p = 0;
  auto ws = [&] {
    while (p < expr.size() && std::isspace(static_cast<unsigned char>(expr[p]))) ++p;
  };
  auto expect = [&](char ch) {
    ws();
    if (p >= expr.size() || expr[p] != ch) {
      fail("conv_feature_layers '", expr, "': expected '", ch, "' at position ", p);
    }
    ++p;
  };
  auto number = [&] {
    ws();
    const size_t start = p;
    while (p < expr.size() && std::isdigit(static_cast<unsigned char>(expr[p])) && p - start < 9)
      ++p;
    if (p == start) fail("conv_feature_layers '", expr, "': expected a number at position ", p);
    return std::stoll(expr.substr(start, p - start));
  };
  std::vector<ConvLayerSpec> out;
  while (true) {
    std::vector<ConvLayerSpec> term;
    expect('[');
    ws();
    while (p < expr.size() && expr[p] == '(') {
      ++p;
      ConvLayerSpec l;
      l.channels = number();
      expect(',');
      l.kernel = number();
      expect(',');
      l.stride = number();
      ws();
      if (p < expr.size() && expr[p] == ',') ++p;
      expect(')');
      term.push_back(l);
      ws();
      if (p < expr.size() && expr[p] == ',') ++p;
      ws();
    }
    expect(']');
    ws();
    int64_t times = 1;
    if (p < expr.size() && expr[p] == '*') {
      ++p;
      times = number();
    }
    if (times > 4096 || out.size() + term.size() * static_cast<size_t>(times) > 4096) {
      fail("conv_feature_layers '", expr, "': too many layers");
    }
    for (int64_t k = 0; k < times; ++k) out.insert(out.end(), term.begin(), term.end());
    ws();
    if (p == expr.size()) break;
    expect('+');
  }
  if (out.empty()) fail("conv_feature_layers '", expr, "': no layers");
  return out;
}

HubertInfo read_hubert(const Checkpoint& ck, bool with_weights) {
  return with_context(ck.path(), [&] {
    PyRef r = ck.root();
    if (!r->is_dict()) fail("not a fairseq checkpoint: top level is a ", kind_name(r->kind()));
    PyRef model = r->at("model");
    if (!model->is_dict()) fail("'model' is not a state dict");
    PyRef cfg = r->find("cfg");
    PyRef mcfg = cfg && cfg->is_dict() ? cfg->find("model") : nullptr;
    PyRef args = r->find("args");
    if (mcfg && !mcfg->is_dict()) mcfg = nullptr;
    if (args && !args->is(PyKind::kObject)) args = nullptr;
    if (!mcfg && !args) fail("neither cfg['model'] nor args holds the model configuration");
    HubertInfo h;
    h.config_source = mcfg ? "cfg.model" : "args";
    auto get = [&](const std::string& key) -> PyRef {
      PyRef v = mcfg ? mcfg->find(key) : nullptr;
      if (!v && args) v = args->attr(key);
      return v;
    };
    auto get_int = [&](const std::string& key, int64_t def, bool required) {
      PyRef v = get(key);
      if (!v || v->is_none()) {
        if (required) fail("model config has no '", key, "'");
        return def;
      }
      return with_context("model config '" + key + "'", [&] { return v->as_int(); });
    };
    h.layers = get_int("encoder_layers", 12, true);
    h.embedding_dim = get_int("encoder_embed_dim", 768, true);
    h.heads = get_int("encoder_attention_heads", 12, true);
    h.ffn_dim = get_int("encoder_ffn_embed_dim", 3072, true);
    h.conv_pos = get_int("conv_pos", 128, false);
    h.conv_pos_groups = get_int("conv_pos_groups", 16, false);
    if (PyRef v = get("extractor_mode")) h.extractor_mode = v->as_str();
    if (PyRef v = get("layer_norm_first")) h.layer_norm_first = v->as_bool();
    PyRef conv = get("conv_feature_layers");
    if (!conv) fail("model config has no 'conv_feature_layers'");
    h.conv_layers = parse_conv_feature_layers(conv->as_str());
    if (cfg && cfg->is_dict()) {
      PyRef task = cfg->find("task");
      PyRef norm = task && task->is_dict() ? task->find("normalize") : nullptr;
      if (norm) h.normalize = norm->as_bool();
    } else if (args) {
      if (PyRef norm = args->attr("normalize")) h.normalize = norm->as_bool();
    }
    if (h.embedding_dim <= 0 || h.heads <= 0 || h.embedding_dim % h.heads != 0) {
      fail("encoder_embed_dim ", h.embedding_dim, " is not a multiple of ", h.heads, " heads");
    }
    if (h.extractor_mode != "default" && h.extractor_mode != "layer_norm") {
      fail("extractor_mode '", h.extractor_mode, "' is not 'default' or 'layer_norm'");
    }
    // Cross-check the parsed conv stack against the weights (channels and kernels).
    int64_t in_ch = 1;
    for (size_t i = 0; i < h.conv_layers.size(); ++i) {
      const std::string key = "feature_extractor.conv_layers." + std::to_string(i) + ".0.weight";
      const TorchTensor& w = need_tensor(model, key, 3);
      const ConvLayerSpec& l = h.conv_layers[i];
      if (w.shape[0] != l.channels || w.shape[1] != in_ch || w.shape[2] != l.kernel) {
        fail("tensor '", key, "' has shape ", shape_str(w.shape), " but conv_feature_layers says [",
             l.channels, ", ", in_ch, ", ", l.kernel, "]");
      }
      in_ch = l.channels;
    }
    if (model->find("feature_extractor.conv_layers." + std::to_string(h.conv_layers.size()) +
                    ".0.weight")) {
      fail("the weights have more conv layers than conv_feature_layers lists");
    }
    const int64_t n_layers_w = count_indexed(model, "encoder.layers.", ".fc1.weight");
    if (n_layers_w != h.layers) {
      fail("encoder_layers is ", h.layers, " but the weights hold ", n_layers_w, " layers");
    }
    const TorchTensor& fc1 = need_tensor(model, "encoder.layers.0.fc1.weight", 2);
    if (fc1.shape[0] != h.ffn_dim || fc1.shape[1] != h.embedding_dim) {
      fail("encoder.layers.0.fc1.weight has shape ", shape_str(fc1.shape), ", expected [",
           h.ffn_dim, ", ", h.embedding_dim, "]");
    }
    if (const TorchTensor* fp = find_tensor(model, "final_proj.weight")) h.final_dim = fp->shape[0];
    if (with_weights) h.weights = state_dict_to_tensors(model);
    return h;
  });
}

RmvpeInfo read_rmvpe(const Checkpoint& ck, bool with_weights) {
  return with_context(ck.path(), [&] {
    PyRef sd = ck.root();
    if (!sd->is_dict()) fail("not an RMVPE state dict: top level is a ", kind_name(sd->kind()));
    RmvpeInfo m;
    m.in_channels = need_tensor(sd, "unet.encoder.bn.weight", 1).shape[0];
    m.en_de_layers = count_indexed(sd, "unet.encoder.layers.", ".conv.0.conv.0.weight");
    if (m.en_de_layers == 0) fail("missing tensor 'unet.encoder.layers.0.conv.0.conv.0.weight'");
    m.n_blocks = count_indexed(sd, "unet.encoder.layers.0.conv.", ".conv.0.weight");
    m.inter_layers = count_indexed(sd, "unet.intermediate.layers.", ".conv.0.conv.0.weight");
    m.en_out_channels = need_tensor(sd, "unet.encoder.layers.0.conv.0.conv.0.weight", 4).shape[0];
    const int64_t de = count_indexed(sd, "unet.decoder.layers.", ".conv1.0.weight");
    if (de != m.en_de_layers) {
      fail("RMVPE has ", m.en_de_layers, " encoder layers but ", de, " decoder layers");
    }
    while (find_tensor(sd, "fc.0.gru.weight_ih_l" + std::to_string(m.n_gru))) ++m.n_gru;
    if (m.n_gru == 0) fail("missing tensor 'fc.0.gru.weight_ih_l0'");
    const TorchTensor& cnn = need_tensor(sd, "cnn.weight", 4);
    const TorchTensor& ih = need_tensor(sd, "fc.0.gru.weight_ih_l0", 2);
    if (cnn.shape[0] <= 0 || ih.shape[1] % cnn.shape[0] != 0) {
      fail("fc.0.gru.weight_ih_l0 input ", ih.shape[1], " is not a multiple of cnn channels ",
           cnn.shape[0]);
    }
    m.n_mels = ih.shape[1] / cnn.shape[0];  // BiGRU input is 3 * N_MELS
    const TorchTensor* lin = find_tensor(sd, "fc.1.weight");
    if (!lin || lin->shape.size() != 2) fail("missing tensor 'fc.1.weight'");
    m.n_classes = lin->shape[0];
    if (with_weights) m.weights = state_dict_to_tensors(sd);
    return m;
  });
}

}  // namespace rvc::formats
