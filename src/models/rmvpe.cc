#include "rvc/models/rmvpe.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "rvc/core/error.h"
#include "rvc/dsp/pitch_decode.h"
#include "rvc/nn/conv2d.h"
#include "rvc/nn/gru.h"
#include "rvc/nn/linear.h"
#include "rvc/nn/ops.h"

namespace rvc::models {

namespace {}  // namespace

// Recycled feature-map buffers: each salience() call needs ~100 maps of up to tens of MB, and
// fresh allocations of that size cost a page fault per 4 KiB on every call. A pool keeps at
// most `limit` bytes of free buffers; buffers are uninitialised. One pool lives in each
// RmvpeWorkspace (no limit: it holds what one call of the workspace's size needs) and one per
// thread for the allocating API (limit kThreadPoolBytes).
class BufferPool {
 public:
  static constexpr size_t kThreadPoolBytes = size_t{128} << 20;
  explicit BufferPool(size_t limit) : limit_(limit) { free_.reserve(kMaxFree); }
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool() {
    for (auto& b : free_) std::free(b.second);
  }
  float* get(size_t n, size_t* cap) {
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].first >= n && (best == free_.size() || free_[i].first < free_[best].first)) {
        best = i;
      }
    }
    if (best < free_.size()) {
      float* p = free_[best].second;
      *cap = free_[best].first;
      pooled_ -= *cap * sizeof(float);
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      return p;
    }
    *cap = std::max<size_t>(n, 16);
    void* p = std::aligned_alloc(64, (*cap * sizeof(float) + 63) / 64 * 64);
    if (!p) throw std::bad_alloc();
    return static_cast<float*>(p);
  }
  void put(float* p, size_t cap) {
    if (pooled_ + cap * sizeof(float) > limit_ || free_.size() >= kMaxFree) {
      std::free(p);
      return;
    }
    pooled_ += cap * sizeof(float);
    free_.emplace_back(cap, p);
  }
  static BufferPool& local() {
    thread_local BufferPool pool(kThreadPoolBytes);
    return pool;
  }
  size_t pooled_bytes() const { return pooled_; }

 private:
  static constexpr size_t kMaxFree = 1024;  // free_ never reallocates
  std::vector<std::pair<size_t, float*>> free_;
  size_t pooled_ = 0, limit_;
};

namespace {

// A pooled float buffer with the bits of std::vector's interface the code below uses.
class Buf {
 public:
  Buf() = default;
  Buf(size_t n, BufferPool& pool) : pool_(&pool), n_(n) { p_ = pool.get(n, &cap_); }
  ~Buf() { release(); }
  Buf(Buf&& o) noexcept : pool_(o.pool_), p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr; }
  Buf& operator=(Buf&& o) noexcept {
    if (this != &o) {
      release();
      pool_ = o.pool_;
      p_ = o.p_;
      n_ = o.n_;
      cap_ = o.cap_;
      o.p_ = nullptr;
    }
    return *this;
  }
  float* data() { return p_; }
  const float* data() const { return p_; }
  float* begin() { return p_; }
  float* end() { return p_ + n_; }
  const float* begin() const { return p_; }
  const float* end() const { return p_ + n_; }
  size_t size() const { return n_; }
  float& operator[](size_t i) { return p_[i]; }
  const float& operator[](size_t i) const { return p_[i]; }

 private:
  // Maps are created and destroyed on the thread that runs salience(), with its pool.
  void release() {
    if (p_) pool_->put(p_, cap_);
    p_ = nullptr;
  }
  BufferPool* pool_ = nullptr;
  float* p_ = nullptr;
  size_t n_ = 0, cap_ = 0;
};

struct Map {  // one [H][W][C] feature map (nn layout), contents uninitialised
  int64_t h = 0, w = 0, c = 0;
  Buf data;
  Map() = default;
  Map(int64_t h_, int64_t w_, int64_t c_, BufferPool& pool)
      : h(h_), w(w_), c(c_), data(static_cast<size_t>(h_ * w_ * c_), pool) {}
};

const Tensor& need_rank(const TensorMap& w, const std::string& key, int rank) {
  const auto it = w.find(key);
  if (it == w.end()) fail("RMVPE: missing tensor '", key, "'");
  if (it->second.ndim() != rank) {
    fail("RMVPE: tensor '", key, "' has shape ", shape_str(it->second.shape()), ", expected ", rank,
         " dims");
  }
  return it->second;
}

const Tensor& need(const TensorMap& w, const std::string& key, const Shape& shape) {
  const auto it = w.find(key);
  if (it == w.end()) fail("RMVPE: missing tensor '", key, "'");
  if (it->second.shape() != shape) {
    fail("RMVPE: tensor '", key, "' has shape ", shape_str(it->second.shape()), ", expected ",
         shape_str(shape));
  }
  return it->second;
}

nn::BatchNorm load_bn(const TensorMap& w, const std::string& p, int64_t c) {
  return nn::BatchNorm(need(w, p + ".weight", {c}), need(w, p + ".bias", {c}),
                       need(w, p + ".running_mean", {c}), need(w, p + ".running_var", {c}));
}

// 3x3 pad 1 conv (no bias) followed by BatchNorm2d and ReLU, the BatchNorm folded in.
nn::Conv2d conv3_bn_relu(const TensorMap& w, const std::string& conv, const std::string& bn,
                         int64_t cin, int64_t cout) {
  nn::Conv2dParams p;
  p.in_channels = cin;
  p.out_channels = cout;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  p.post = nn::PostOp::kRelu;
  const nn::BatchNorm b = load_bn(w, bn, cout);
  return nn::Conv2d(p, need(w, conv + ".weight", {cout, cin, 3, 3}), nullptr, &b);
}

// A 3x3 pad-1 conv + BatchNorm + ReLU on a one-row map (H == 1), where only the kernel's middle
// row meets data. A stream block's 32 frames leave RMVPE's intermediate levels 1 x 4 (512
// channels, 75% of its weights): there the conv is a matrix product of the W rows [x[w-1], x[w],
// x[w+1]] with the middle row's weights, which the checkpoint stores as halves, so nn::Linear
// keeps them as halves and streams a sixth of the folded 3x3 kernel's f32 bytes. The BatchNorm
// follows as a per-channel scale and shift (as upstream's separate BatchNorm2d) and the ReLU.
struct RowConv {
  static constexpr int64_t kMaxWidth = 64;
  nn::Linear lin;  // [cout][3 * cin]: lin weight (o, kw * cin + c) = w[o][c][1][kw]
  Tensor scale, shift;

  RowConv(const Tensor& w, const nn::BatchNorm& bn) : scale(bn.scale()), shift(bn.shift()) {
    const int64_t cout = w.dim(0), cin = w.dim(1);
    Tensor m({cout, 3 * cin});
    for (int64_t o = 0; o < cout; ++o) {
      for (int64_t kw = 0; kw < 3; ++kw) {
        for (int64_t c = 0; c < cin; ++c)
          m[(o * 3 + kw) * cin + c] = w[((o * cin + c) * 3 + 1) * 3 + kw];
      }
    }
    lin = nn::Linear(m, nullptr);
  }
  // x: [width][cin] -> y: [width][cout] = relu(bn(conv(x))), or y += that when add.
  void forward(const float* x, int64_t width, float* y, bool add, BufferPool& pool) const {
    const int64_t cin = lin.in_features() / 3, cout = lin.out_features();
    Map col(1, width, 3 * cin, pool), t(1, width, cout, pool);
    for (int64_t w = 0; w < width; ++w) {
      for (int64_t kw = 0; kw < 3; ++kw) {
        float* dst = col.data.data() + (w * 3 + kw) * cin;
        const int64_t src = w + kw - 1;
        if (src < 0 || src >= width) {
          std::fill(dst, dst + cin, 0.0f);
        } else {
          std::copy(x + src * cin, x + (src + 1) * cin, dst);
        }
      }
    }
    lin.forward(col.data.data(), width, t.data.data());
    for (int64_t w = 0; w < width; ++w) {
      const float* tr = t.data.data() + w * cout;
      float* yr = y + w * cout;
      for (int64_t o = 0; o < cout; ++o) {
        const float v = std::max(tr[o] * scale[o] + shift[o], 0.0f);
        yr[o] = add ? yr[o] + v : v;
      }
    }
  }
};

// ref: infer/lib/rmvpe.py, ConvBlockRes: relu(bn(conv(relu(bn(conv(x)))))) + shortcut(x)
struct ConvBlockRes {
  nn::Conv2d conv1, conv2;  // BatchNorm + ReLU fused; conv2 adds the residual after its ReLU
  bool has_shortcut = false;
  nn::Conv2d shortcut;  // 1x1 with bias
  // The same convs for one-row maps (half weights; see RowConv), made by use_rows().
  std::unique_ptr<RowConv> row1, row2;

  ConvBlockRes(const TensorMap& w, const std::string& p, int64_t cin, int64_t cout) {
    conv1 = conv3_bn_relu(w, p + ".conv.0", p + ".conv.1", cin, cout);
    conv2 = conv3_bn_relu(w, p + ".conv.3", p + ".conv.4", cout, cout);
    has_shortcut = cin != cout;
    if (has_shortcut) {
      nn::Conv2dParams sp;
      sp.in_channels = cin;
      sp.out_channels = cout;
      shortcut = nn::Conv2d(sp, need(w, p + ".shortcut.weight", {cout, cin, 1, 1}),
                            &need(w, p + ".shortcut.bias", {cout}));
    }
  }
  // Keeps row forms of both convs when the checkpoint's weights are halves (and the fast f32
  // path holds them so); otherwise nothing changes.
  void use_rows(const TensorMap& w, const std::string& p) {
    auto r1 = std::make_unique<RowConv>(need_rank(w, p + ".conv.0.weight", 4),
                                        load_bn(w, p + ".conv.1", conv1.params().out_channels));
    auto r2 = std::make_unique<RowConv>(need_rank(w, p + ".conv.3.weight", 4),
                                        load_bn(w, p + ".conv.4", conv2.params().out_channels));
    if (!r1->lin.half_weights() || !r2->lin.half_weights()) return;
    row1 = std::move(r1);
    row2 = std::move(r2);
  }
  // Consumes x: without a shortcut conv the residual is accumulated into x's own buffer. Every
  // map (x, the result) is in `layout`.
  Map forward(Map x, BufferPool& pool, nn::MapLayout layout) const {
    const int64_t cout = conv1.params().out_channels;
    const bool rows =
        row1 && x.h == 1 && x.w <= RowConv::kMaxWidth && layout == nn::MapLayout::kNhwc;
    Map t(x.h, x.w, cout, pool);
    if (rows) {
      row1->forward(x.data.data(), x.w, t.data.data(), false, pool);
    } else {
      conv1.forward(x.data.data(), x.h, x.w, t.data.data(), false, layout);
    }
    const auto second = [&](float* y) {
      if (rows) {
        row2->forward(t.data.data(), t.w, y, /*add=*/true, pool);
      } else {
        conv2.forward(t.data.data(), t.h, t.w, y, /*accumulate=*/true, layout);
      }
    };
    if (!has_shortcut) {
      second(x.data.data());
      return x;
    }
    Map y(x.h, x.w, cout, pool);
    shortcut.forward(x.data.data(), x.h, x.w, y.data.data(), false, layout);
    second(y.data.data());
    return y;
  }
  bool prefers_blocked(int64_t h, int64_t w) const {
    return conv1.prefers_blocked(h, w) && conv2.prefers_blocked(h, w);
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

// x and the result are [H][W][C]. Blocks whose convs run faster in the blocked layout
// (Winograd: RMVPE's 64- and 128-channel levels on 128+ pixels) run in it; the map changes
// layout only where the preference changes (a level's first block may have 32 inputs).
Map run_blocks(const std::vector<ConvBlockRes>& blocks, Map x, BufferPool& pool) {
  bool blocked = false;
  const auto relayout = [&](bool to_blocked) {
    Map y(x.h, x.w, x.c, pool);
    if (to_blocked) {
      nn::to_blocked16(x.data.data(), x.h * x.w, x.c, y.data.data());
    } else {
      nn::from_blocked16(x.data.data(), x.h * x.w, x.c, y.data.data());
    }
    x = std::move(y);
    blocked = to_blocked;
  };
  for (const auto& b : blocks) {
    const bool want = b.prefers_blocked(x.h, x.w);
    if (want != blocked) relayout(want);
    x = b.forward(std::move(x), pool, blocked ? nn::MapLayout::kBlocked16 : nn::MapLayout::kNhwc);
  }
  if (blocked) relayout(false);
  return x;
}

Map concat_channels(const Map& a, const Map& b, BufferPool& pool) {
  if (a.h != b.h || a.w != b.w) {
    fail("RMVPE: cannot concatenate maps ", a.h, "x", a.w, " and ", b.h, "x", b.w);
  }
  Map y(a.h, a.w, a.c + b.c, pool);
  for (int64_t p = 0; p < a.h * a.w; ++p) {
    float* dst = y.data.data() + p * y.c;
    std::copy(a.data.data() + p * a.c, a.data.data() + (p + 1) * a.c, dst);
    std::copy(b.data.data() + p * b.c, b.data.data() + (p + 1) * b.c, dst + a.c);
  }
  return y;
}

}  // namespace

struct Rmvpe::Net {
  nn::BatchNorm enc_bn;
  std::vector<std::vector<ConvBlockRes>> enc, inter;
  struct Dec {
    nn::ConvTranspose2d up;  // BatchNorm + ReLU fused
    std::vector<ConvBlockRes> blocks;
  };
  std::vector<Dec> dec;
  nn::Conv2d cnn;
  nn::Gru gru;
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
    const std::string p = "unet.intermediate.layers." + std::to_string(i) + ".conv";
    n.inter.push_back(load_blocks(w, p, hp_.n_blocks, i == 0 ? cout / 2 : cout, cout));
    // The intermediate levels are one row high whenever the padded frames are 2^en_de_layers
    // (a stream block's window); the fast f32 path then runs them as row products.
    if (n.inter.back().front().conv1.backend() == nn::Backend::kFast &&
        nn::effective_precision(nn::default_precision()) == nn::Precision::kF32) {
      for (int64_t j = 0; j < hp_.n_blocks; ++j) {
        n.inter.back()[static_cast<size_t>(j)].use_rows(w, p + "." + std::to_string(j));
      }
    }
  }
  int64_t dch = cout;
  for (int64_t i = 0; i < hp_.en_de_layers; ++i) {
    const std::string p = "unet.decoder.layers." + std::to_string(i);
    const int64_t out = dch / 2;
    Net::Dec d;
    // ref: ResDecoderBlock.conv1: ConvTranspose2d(k 3, stride = the pool kernel (2, 2), padding
    // 1, output_padding (1, 1)) -> BatchNorm2d -> ReLU.
    nn::ConvTranspose2dParams tp;
    tp.in_channels = dch;
    tp.out_channels = out;
    tp.kernel_h = tp.kernel_w = 3;
    tp.stride_h = tp.stride_w = 2;
    tp.pad_h = tp.pad_w = 1;
    tp.output_padding_h = tp.output_padding_w = 1;
    tp.post = nn::PostOp::kRelu;
    const nn::BatchNorm bn = load_bn(w, p + ".conv1.1", out);
    d.up = nn::ConvTranspose2d(tp, need(w, p + ".conv1.0.weight", {dch, out, 3, 3}), nullptr, &bn);
    d.blocks = load_blocks(w, p + ".conv2", hp_.n_blocks, 2 * out, out);
    n.dec.push_back(std::move(d));
    dch = out;
  }
  const Tensor& cnn_w = need_rank(w, "cnn.weight", 4);
  const int64_t cnn_out = cnn_w.dim(0);
  need(w, "cnn.weight", {cnn_out, hp_.en_out_channels, 3, 3});
  nn::Conv2dParams cp;
  cp.in_channels = hp_.en_out_channels;
  cp.out_channels = cnn_out;
  cp.kernel_h = cp.kernel_w = 3;
  cp.pad_h = cp.pad_w = 1;
  n.cnn = nn::Conv2d(cp, cnn_w, &need(w, "cnn.bias", {cnn_out}));
  n.gru = nn::Gru(w, "fc.0.gru.", hp_.n_gru, /*bidirectional=*/true);
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

struct RmvpeWorkspace::Impl {
  int64_t max_samples = 0;
  BufferPool pool{~size_t{0}};
  dsp::LogMelSpectrogram::Scratch mel_scratch;
  std::vector<float> mel, feats, gru, sal, zeros;  // sized for max_samples
  std::vector<double> f0;
};

RmvpeWorkspace::RmvpeWorkspace() = default;
RmvpeWorkspace::~RmvpeWorkspace() = default;
RmvpeWorkspace::RmvpeWorkspace(RmvpeWorkspace&&) noexcept = default;
RmvpeWorkspace& RmvpeWorkspace::operator=(RmvpeWorkspace&&) noexcept = default;
int64_t RmvpeWorkspace::max_samples() const { return impl_ ? impl_->max_samples : 0; }
size_t RmvpeWorkspace::pooled_bytes() const { return impl_ ? impl_->pool.pooled_bytes() : 0; }

int64_t Rmvpe::frames(int64_t n_samples) const { return mel_.n_frames(n_samples); }

int64_t Rmvpe::padded_frames(int64_t frames) const {
  const int64_t mult = int64_t{1} << hp_.en_de_layers;  // 32 upstream
  return mult * ((frames - 1) / mult + 1);
}

RmvpeWorkspace Rmvpe::make_workspace(int64_t max_samples) const {
  if (max_samples <= 512) fail("RMVPE: a workspace needs more than 512 samples");
  RmvpeWorkspace ws;
  ws.impl_ = std::make_unique<RmvpeWorkspace::Impl>();
  auto& w = *ws.impl_;
  w.max_samples = max_samples;
  const int64_t t = frames(max_samples), padded = padded_frames(t);
  w.mel.resize(static_cast<size_t>(hp_.n_mels * t));
  w.feats.resize(static_cast<size_t>(padded * net_->gru.input_size()));
  w.gru.resize(static_cast<size_t>(padded * net_->gru.out_features()));
  w.sal.resize(static_cast<size_t>(t * hp_.n_classes));
  w.f0.resize(static_cast<size_t>(t));
  return ws;
}

int64_t Rmvpe::half_row_convs() const {
  int64_t n = 0;
  for (const auto& level : net_->inter) {
    for (const auto& b : level) n += b.row1 ? 2 : 0;
  }
  return n;
}

void Rmvpe::prepare(RmvpeWorkspace& ws, int64_t n, float threshold) const {
  if (!ws.impl_ || n > ws.impl_->max_samples || n <= 512) {
    fail("RMVPE: cannot prepare ", n, " samples in a workspace for ", ws.max_samples());
  }
  // Two passes on silence: the first creates the primitives, this thread's scratch and the
  // pool's buffers; the second settles the pool's best-fit reuse for this length.
  auto& w = *ws.impl_;
  w.zeros.assign(static_cast<size_t>(n), 0.f);
  for (int i = 0; i < 2; ++i) infer_f0(w.zeros.data(), n, ws, w.f0.data(), threshold);
}

void Rmvpe::infer_f0(const float* audio_16k, int64_t n, RmvpeWorkspace& ws, double* f0,
                     float threshold) const {
  if (!ws.impl_ || n > ws.impl_->max_samples) {
    fail("RMVPE: ", n, " samples exceed the workspace's ", ws.max_samples());
  }
  if (n <= 512) fail("RMVPE: ", n, " samples are too short (need more than 512)");
  auto& w = *ws.impl_;
  const int64_t t = frames(n);
  mel_.compute_into(audio_16k, n, w.mel.data(), w.mel_scratch);
  run_salience(w.mel.data(), t, w.pool, w.feats.data(), w.gru.data(), w.sal.data());
  dsp::rmvpe_decode_into(w.sal.data(), t, static_cast<int>(hp_.n_classes), threshold, f0);
}

// ref: infer/lib/rmvpe.py, RMVPE.mel2hidden + E2E.forward
Tensor Rmvpe::salience(const Tensor& mel) const {
  if (mel.ndim() != 2 || mel.dim(0) != hp_.n_mels) {
    fail("RMVPE: mel must be [", hp_.n_mels, ", T], got ", shape_str(mel.shape()));
  }
  const int64_t frames = mel.dim(1);
  if (frames < 1) fail("RMVPE: empty mel");
  const int64_t padded = padded_frames(frames);
  std::vector<float> feats(static_cast<size_t>(padded * net_->gru.input_size()));
  std::vector<float> g(static_cast<size_t>(padded * net_->gru.out_features()));
  Tensor out({frames, hp_.n_classes});
  run_salience(mel.data(), frames, BufferPool::local(), feats.data(), g.data(), out.data());
  return out;
}

void Rmvpe::run_salience(const float* mel, int64_t frames, BufferPool& pool, float* feats, float* g,
                         float* out) const {
  const int64_t padded = padded_frames(frames);
  const Net& n = *net_;

  // [1, 1, T, n_mels] NCHW == [T][n_mels][1] HWC; the padding frames are zeros.
  Map x(padded, hp_.n_mels, 1, pool);
  std::fill(x.data.begin(), x.data.end(), 0.0f);
  for (int64_t m = 0; m < hp_.n_mels; ++m) {
    for (int64_t t = 0; t < frames; ++t)
      x.data[static_cast<size_t>(t * hp_.n_mels + m)] = mel[m * frames + t];
  }
  n.enc_bn.forward(x.data.data(), x.data.data(), x.h * x.w);
  std::array<Map, 10> skips;  // en_de_layers <= 10 (checked at construction)
  size_t n_skips = 0;
  for (const auto& layer : n.enc) {
    Map y = run_blocks(layer, std::move(x), pool);
    x = Map(y.h / 2, y.w / 2, y.c, pool);
    nn::avg_pool2d(y.data.data(), y.h, y.w, y.c, 2, 2, x.data.data());
    skips[n_skips++] = std::move(y);
  }
  for (const auto& layer : n.inter) x = run_blocks(layer, std::move(x), pool);
  for (size_t i = 0; i < n.dec.size(); ++i) {
    const nn::ConvTranspose2d& up = n.dec[i].up;
    Map u(up.out_h(x.h), up.out_w(x.w), up.params().out_channels, pool);
    up.forward(x.data.data(), x.h, x.w, u.data.data());
    Map cat = concat_channels(u, skips[n_skips - 1 - i], pool);
    skips[n_skips - 1 - i] = Map();
    u = Map();
    x = run_blocks(n.dec[i].blocks, std::move(cat), pool);
  }
  Map c(x.h, x.w, n.cnn.params().out_channels, pool);  // [T][n_mels][3]
  n.cnn.forward(x.data.data(), x.h, x.w, c.data.data());
  // transpose(1, 2).flatten(-2): feature index = channel * n_mels + mel.
  for (int64_t t = 0; t < padded; ++t) {
    for (int64_t m = 0; m < c.w; ++m) {
      for (int64_t ch = 0; ch < c.c; ++ch) {
        feats[(t * c.c + ch) * c.w + m] = c.data[static_cast<size_t>((t * c.w + m) * c.c + ch)];
      }
    }
  }
  n.gru.forward(feats, padded, g);
  // Frames are independent after the GRU: only the first `frames` rows are needed.
  n.fc.forward(g, frames, out);
  nn::sigmoid(out, out, static_cast<size_t>(frames * hp_.n_classes));
}

std::vector<double> Rmvpe::infer_f0(const float* audio_16k, int64_t n, float threshold) const {
  const Tensor s = salience(mel(audio_16k, n));
  return dsp::rmvpe_decode(s.data(), s.dim(0), static_cast<int>(s.dim(1)), threshold);
}

}  // namespace rvc::models
