#include "rvc/models/rmvpe.h"

#include <string>
#include <utility>

#include "rmvpe_layers.h"
#include "rvc/core/error.h"
#include "rvc/dsp/pitch_decode.h"
#include "rvc/nn/linear.h"
#include "rvc/nn/ops.h"

namespace rvc::models {

using rmvpe_detail::BiGru;
using rmvpe_detail::Conv2d;
using rmvpe_detail::ConvTranspose2dX2;
using rmvpe_detail::Map;
using rmvpe_detail::need;
using rmvpe_detail::need_rank;

namespace {

nn::BatchNorm load_bn(const TensorMap& w, const std::string& p, int64_t c) {
  return nn::BatchNorm(need(w, p + ".weight", {c}), need(w, p + ".bias", {c}),
                       need(w, p + ".running_mean", {c}), need(w, p + ".running_var", {c}));
}

// ref: infer/lib/rmvpe.py, ConvBlockRes
struct ConvBlockRes {
  Conv2d conv1, conv2;
  nn::BatchNorm bn1, bn2;
  bool has_shortcut = false;
  Conv2d shortcut;

  ConvBlockRes(const TensorMap& w, const std::string& p, int64_t cin, int64_t cout) {
    conv1 = Conv2d(p + ".conv.0", need(w, p + ".conv.0.weight", {cout, cin, 3, 3}), nullptr);
    bn1 = load_bn(w, p + ".conv.1", cout);
    conv2 = Conv2d(p + ".conv.3", need(w, p + ".conv.3.weight", {cout, cout, 3, 3}), nullptr);
    bn2 = load_bn(w, p + ".conv.4", cout);
    has_shortcut = cin != cout;
    if (has_shortcut) {
      const Tensor& b = need(w, p + ".shortcut.bias", {cout});
      shortcut = Conv2d(p + ".shortcut", need(w, p + ".shortcut.weight", {cout, cin, 1, 1}), &b);
    }
  }
  Map forward(const Map& x) const {
    Map y = conv1.forward(x);
    rmvpe_detail::bn_relu(bn1, y);
    y = conv2.forward(y);
    rmvpe_detail::bn_relu(bn2, y);
    if (has_shortcut) {
      const Map s = shortcut.forward(x);
      nn::add(y.data.data(), s.data.data(), y.data.data(), y.data.size());
    } else {
      nn::add(y.data.data(), x.data.data(), y.data.data(), y.data.size());
    }
    return y;
  }
};

// A stack of n_blocks ConvBlockRes (ResEncoderBlock without its pool).
std::vector<ConvBlockRes> load_blocks(const TensorMap& w, const std::string& p, int64_t n,
                                      int64_t cin, int64_t cout) {
  std::vector<ConvBlockRes> blocks;
  for (int64_t j = 0; j < n; ++j) {
    blocks.emplace_back(w, p + "." + std::to_string(j), j == 0 ? cin : cout, cout);
  }
  return blocks;
}

Map run_blocks(const std::vector<ConvBlockRes>& blocks, Map x) {
  for (const auto& b : blocks) x = b.forward(x);
  return x;
}

}  // namespace

struct Rmvpe::Net {
  nn::BatchNorm enc_bn;
  std::vector<std::vector<ConvBlockRes>> enc, inter;
  struct Dec {
    ConvTranspose2dX2 up;
    nn::BatchNorm bn;
    std::vector<ConvBlockRes> blocks;
  };
  std::vector<Dec> dec;
  Conv2d cnn;
  BiGru gru;
  nn::Linear fc;
};

// ref: infer/lib/rmvpe.py, E2E.__init__ / DeepUnet / Encoder / Intermediate / Decoder
Rmvpe::Rmvpe(formats::RmvpeInfo info) : mel_(dsp::LogMelConfig{}), net_(std::make_unique<Net>()) {
  hp_.n_blocks = info.n_blocks;
  hp_.en_de_layers = info.en_de_layers;
  hp_.inter_layers = info.inter_layers;
  hp_.en_out_channels = info.en_out_channels;
  hp_.in_channels = info.in_channels;
  hp_.n_gru = info.n_gru;
  hp_.n_mels = info.n_mels;
  hp_.n_classes = info.n_classes;
  if (hp_.n_blocks < 1 || hp_.en_de_layers < 1 || hp_.en_de_layers > 10 || hp_.inter_layers < 1 ||
      hp_.en_out_channels < 1 || hp_.in_channels != 1 || hp_.n_gru < 1 || hp_.n_classes < 1) {
    fail("RMVPE: unsupported hyper-parameters (n_blocks ", hp_.n_blocks, ", en_de_layers ",
         hp_.en_de_layers, ", inter_layers ", hp_.inter_layers, ", en_out_channels ",
         hp_.en_out_channels, ", in_channels ", hp_.in_channels, ", n_gru ", hp_.n_gru, ")");
  }
  if (hp_.n_mels != mel_.n_mels() || hp_.n_mels % (int64_t{1} << hp_.en_de_layers) != 0) {
    fail("RMVPE: the GRU expects ", hp_.n_mels, " mel bins; the front end gives ", mel_.n_mels());
  }
  const TensorMap& w = info.weights;
  Net& n = *net_;
  n.enc_bn = load_bn(w, "unet.encoder.bn", hp_.in_channels);
  int64_t cin = hp_.in_channels, cout = hp_.en_out_channels;
  for (int64_t i = 0; i < hp_.en_de_layers; ++i) {
    n.enc.push_back(load_blocks(w, "unet.encoder.layers." + std::to_string(i) + ".conv",
                                hp_.n_blocks, cin, cout));
    cin = cout;
    cout *= 2;
  }
  // Encoder.out_channel is the doubled count after the loop; Intermediate goes out/2 -> out.
  for (int64_t i = 0; i < hp_.inter_layers; ++i) {
    n.inter.push_back(load_blocks(w, "unet.intermediate.layers." + std::to_string(i) + ".conv",
                                  hp_.n_blocks, i == 0 ? cout / 2 : cout, cout));
  }
  int64_t dch = cout;
  for (int64_t i = 0; i < hp_.en_de_layers; ++i) {
    const std::string p = "unet.decoder.layers." + std::to_string(i);
    const int64_t out = dch / 2;
    Net::Dec d;
    d.up = ConvTranspose2dX2(p + ".conv1.0", need(w, p + ".conv1.0.weight", {dch, out, 3, 3}));
    d.bn = load_bn(w, p + ".conv1.1", out);
    d.blocks = load_blocks(w, p + ".conv2", hp_.n_blocks, 2 * out, out);
    n.dec.push_back(std::move(d));
    dch = out;
  }
  const Tensor& cnn_w = need_rank(w, "cnn.weight", 4);
  const int64_t cnn_out = cnn_w.dim(0);
  need(w, "cnn.weight", {cnn_out, hp_.en_out_channels, 3, 3});
  n.cnn = Conv2d("cnn", cnn_w, &need(w, "cnn.bias", {cnn_out}));
  n.gru = BiGru(w, "fc.0.gru.", hp_.n_gru);
  if (n.gru.input_size() != cnn_out * hp_.n_mels) {
    fail("RMVPE: 'fc.0.gru.weight_ih_l0' takes ", n.gru.input_size(), " inputs, expected ",
         cnn_out * hp_.n_mels);
  }
  const int64_t hid2 = 2 * n.gru.hidden_size();
  n.fc = nn::Linear(need(w, "fc.1.weight", {hp_.n_classes, hid2}),
                    &need(w, "fc.1.bias", {hp_.n_classes}));
}

Rmvpe::~Rmvpe() = default;
Rmvpe::Rmvpe(Rmvpe&&) noexcept = default;
Rmvpe& Rmvpe::operator=(Rmvpe&&) noexcept = default;

Tensor Rmvpe::mel(const float* audio_16k, int64_t n) const { return mel_.compute(audio_16k, n); }

// ref: infer/lib/rmvpe.py, RMVPE.mel2hidden + E2E.forward
Tensor Rmvpe::salience(const Tensor& mel) const {
  if (mel.ndim() != 2 || mel.dim(0) != hp_.n_mels) {
    fail("RMVPE: mel must be [", hp_.n_mels, ", T], got ", shape_str(mel.shape()));
  }
  const int64_t frames = mel.dim(1);
  if (frames < 1) fail("RMVPE: empty mel");
  const int64_t mult = int64_t{1} << hp_.en_de_layers;  // 32 upstream
  const int64_t padded = mult * ((frames - 1) / mult + 1);
  const Net& n = *net_;

  // [1, 1, T, n_mels] NCHW == [T][n_mels][1] HWC; the padding frames are zeros.
  Map x(padded, hp_.n_mels, 1);
  for (int64_t m = 0; m < hp_.n_mels; ++m) {
    for (int64_t t = 0; t < frames; ++t)
      x.data[static_cast<size_t>(t * hp_.n_mels + m)] = mel[m * frames + t];
  }
  n.enc_bn.forward(x.data.data(), x.data.data(), x.h * x.w);
  std::vector<Map> skips;
  for (const auto& layer : n.enc) {
    Map y = run_blocks(layer, std::move(x));
    x = rmvpe_detail::avg_pool2(y);
    skips.push_back(std::move(y));
  }
  for (const auto& layer : n.inter) x = run_blocks(layer, std::move(x));
  for (size_t i = 0; i < n.dec.size(); ++i) {
    Map up = n.dec[i].up.forward(x);
    rmvpe_detail::bn_relu(n.dec[i].bn, up);
    x = run_blocks(n.dec[i].blocks, rmvpe_detail::concat_channels(up, skips[skips.size() - 1 - i]));
  }
  const Map c = n.cnn.forward(x);  // [T][n_mels][3]
  // transpose(1, 2).flatten(-2): feature index = channel * n_mels + mel.
  std::vector<float> feats(static_cast<size_t>(padded * c.c * c.w));
  for (int64_t t = 0; t < padded; ++t) {
    for (int64_t m = 0; m < c.w; ++m) {
      for (int64_t ch = 0; ch < c.c; ++ch) {
        feats[static_cast<size_t>((t * c.c + ch) * c.w + m)] =
            c.data[static_cast<size_t>((t * c.w + m) * c.c + ch)];
      }
    }
  }
  const std::vector<float> g = n.gru.forward(feats, padded);
  Tensor out({frames, hp_.n_classes});
  // Frames are independent after the GRU: only the first `frames` rows are needed.
  n.fc.forward(g.data(), frames, out.data());
  nn::sigmoid(out.data(), out.data(), static_cast<size_t>(out.numel()));
  return out;
}

std::vector<double> Rmvpe::infer_f0(const float* audio_16k, int64_t n, float threshold) const {
  const Tensor s = salience(mel(audio_16k, n));
  return dsp::rmvpe_decode(s.data(), s.dim(0), static_cast<int>(s.dim(1)), threshold);
}

}  // namespace rvc::models
