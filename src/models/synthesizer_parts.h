// Private building blocks of the synthesizer (src/models/synthesizer*.cc only).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/attention.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/linear.h"

namespace rvc::models::synth {

// A growable float buffer: at(n) returns storage for n floats, allocating only when n exceeds
// what it already holds (contents unspecified).
class Buf {
 public:
  float* at(size_t n) {
    if (v_.size() < n) v_.resize(n);
    return v_.data();
  }

 private:
  AlignedVector<float> v_;
};

struct EncoderScratch {
  Buf x, y, ff, stats;
};
struct FlowScratch {
  Buf x0, hbuf, xin, acts, rs, out, stats, gc;
};
// The activations of a run of upsampling stages (one set per time-split half).
struct StageScratch {
  Buf x, xs, y, a0, a, bb, r, audio;
  Buf xs2, a2, bb2;  // the last resblock's own chain when the resblocks run in two groups
  Buf r2;            // the second group's time piece of the shared resblock (see run_stages)
  int64_t cuts = 0;  // stages run with that resblock cut (SynthesizerWorkspace reports it)
};
struct DecoderScratch {
  Buf sine, har, xi, pre, act, audio, piece;
  StageScratch main, half[2];
};

// Named weight access with readable errors; folds weight norm (dim=0) on request.
class Weights {
 public:
  explicit Weights(const TensorMap& m) : m_(m) {}
  bool has(const std::string& name) const { return m_.count(name) != 0; }
  const Tensor& get(const std::string& name) const;
  const Tensor& get(const std::string& name, const Shape& expected) const;
  // prefix.weight, or g * v / ||v|| from prefix.weight_g / prefix.weight_v (norm over all dims
  // but 0, as torch.nn.utils.weight_norm(dim=0)).
  Tensor weight(const std::string& prefix) const;

 private:
  const TensorMap& m_;
};

// ref: infer/lib/infer_pack/models.py TextEncoder + attentions.py Encoder/FFN
class TextEncoder {
 public:
  TextEncoder(const SynthesizerConfig& c, const Weights& w, nn::Backend b);
  int64_t phone_dim() const { return emb_phone_.in_features(); }
  // phone [T][phone_dim], pitch T ids or null; writes m/logs [T - head][inter]. plan_t: the
  // frame count the conv primitives are planned for (Conv1d::forward's plan_t_in).
  void forward(const float* phone, int64_t t, const int64_t* pitch, int64_t length, int64_t head,
               float* m, float* logs, EncoderScratch& s, int64_t plan_t) const;

 private:
  int64_t hidden_ = 0, inter_ = 0;
  nn::Linear emb_phone_;
  Tensor emb_pitch_;
  struct Layer {
    nn::RelPosSelfAttention attn;
    Tensor ln1_g, ln1_b, ln2_g, ln2_b;
    nn::Conv1d ffn1, ffn2;
  };
  std::vector<Layer> layers_;
  nn::Linear proj_;
};

// ref: infer/lib/infer_pack/modules.py WN + ResidualCouplingLayer, models.py
// ResidualCouplingBlock (mean_only, reverse direction only).
class Flow {
 public:
  Flow(const SynthesizerConfig& c, const Weights& w, nn::Backend b);
  // x [T][inter] in place, valid = unmasked prefix length, g = speaker embedding [gin].
  void reverse(float* x, int64_t t, int64_t valid, const float* g, FlowScratch& s,
               int64_t plan_t) const;

 private:
  struct Coupling {
    nn::Linear pre, post, cond;
    std::vector<nn::Conv1d> in_layers;
    std::vector<nn::Linear> res_skip;
  };
  int64_t channels_ = 0, half_ = 0, hidden_ = 0;
  nn::Backend backend_ = nn::Backend::kReference;
  std::vector<Coupling> flows_;
};

// ref: infer/lib/infer_pack/models.py GeneratorNSF (+ SourceModuleHnNSF, SineGen) and Generator
class Decoder {
 public:
  Decoder(const SynthesizerConfig& c, const Weights& w, nn::Backend b);
  // x [T][inter] (already masked), f0 T values (NSF only), g [gin]; n_res < 0 or the
  // interpolated frame count; plan_frames: decoder frames the primitives are planned for.
  // Returns the audio (in s.audio) and its sample count.
  // chunk_frames > 0: a longer decode runs in pieces of at most chunk_frames frames, each
  // with margin_frames() of context on both sides (see SynthesizerWorkspace).
  const float* forward(const float* x, int64_t frames, const float* f0, const float* g,
                       int64_t n_res, std::mt19937_64* rng, DecoderScratch& s, int64_t plan_frames,
                       int64_t* samples, int64_t chunk_frames,
                       SynthesizerWorkspace::DecoderSplit split) const;
  int64_t upp() const { return upp_; }
  // Input frames on each side that reach an output frame (conv_pre, upsamplers, resblocks,
  // noise convs, conv_post), rounded up.
  int64_t margin_frames() const { return margin_frames_; }

 private:
  struct ResBlock {
    std::vector<nn::Conv1d> c1, c2;  // c2 empty for ResBlock2
  };
  // NSF source into s.har (n_res * upp or frames * upp samples); returns its pointer.
  const float* source(const float* f0, int64_t frames, int64_t n_res, std::mt19937_64* rng,
                      DecoderScratch& s) const;
  // The network on t frames x [t][inter] with the NSF source har (t * upp samples, or null);
  // writes t * upp samples to audio (which may be s.audio).
  void run(const float* x, int64_t t, const float* har, const float* g, DecoderScratch& s,
           int64_t plan_frames, float* audio, SynthesizerWorkspace::DecoderSplit split) const;
  // Upsampling stages [from, to) on x (t samples at ups_[from]'s input rate, planned for
  // plan_t), with the source har (t * rest_up(from) samples, or null); when `to` is the last
  // stage, conv_post too, into `audio`. Returns the last activation (in b) and its length.
  // groups: each stage's last resblock (the widest kernel) on one thread and the others on a
  // second, every operation single-threaded, then their sum. Where that leaves one thread more
  // work (by piece_split's cost model), the second-to-last resblock is cut in time between them.
  const float* run_stages(size_t from, size_t to, const float* x, int64_t t, int64_t plan_t,
                          const float* har, StageScratch& b, float* audio, int64_t* t_out,
                          bool groups = false) const;
  // Where resblock `shared` of a stage (t samples, planned for plan_t) is cut in time when the
  // resblocks [0, shared) go to one thread and resblock `shared + 1` to the other, so that both
  // get about the same work: 0 (no cut) when the first thread's share is already the larger one
  // or a piece would be shorter than the resblock's reach.
  int64_t piece_split(size_t stage, int64_t t, int64_t plan_t) const;
  // Reach (samples each side) of one resblock: how far past a time cut its output is wrong.
  int64_t resblock_reach(size_t j) const;
  // The first stage a decode of `frames` frames may split at (ups_.size(): none).
  size_t split_stage(int64_t frames) const;
  int64_t rest_up(size_t from) const;
  int64_t margin_frames_ = 0;
  // tail_margin_[i]: reach (samples at ups_[i]'s input rate, each side) of stages i.. and
  // conv_post: the context each side of a time-split half.
  std::vector<int64_t> tail_margin_;
  SynthesizerConfig c_;
  bool nsf_ = false;
  int64_t upp_ = 0;
  nn::Conv1d conv_pre_, conv_post_;
  nn::Linear cond_;
  bool has_cond_ = false;
  std::vector<nn::ConvTranspose1d> ups_;
  std::vector<nn::Conv1d> noise_convs_;
  std::vector<ResBlock> resblocks_;
  float lin_w_ = 0.f, lin_b_ = 0.f;
};

}  // namespace rvc::models::synth
