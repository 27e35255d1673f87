// Synthesizer decoder: NSF-HiFiGAN (GeneratorNSF + SourceModuleHnNSF/SineGen) or HiFi-GAN.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "rvc/core/error.h"
#include "rvc/nn/ops.h"
#include "synthesizer_parts.h"

namespace rvc::models::synth {
namespace {

// Element-wise passes over the big decoder buffers: split over nn::num_threads() OpenMP threads
// (oneDNN's primitives use the same pool) and vectorised for the CPU at run time.
constexpr size_t kParallelMin = size_t{1} << 15;
constexpr size_t kGrain = 1024;  // split points stay 4 KiB aligned

template <typename F>
void parallel_range(size_t n, F&& f) {
  const int nt = nn::num_threads();
  if (nt <= 1 || n < kParallelMin || omp_in_parallel()) {
    f(size_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const size_t parts = static_cast<size_t>(omp_get_num_threads());
    const size_t id = static_cast<size_t>(omp_get_thread_num());
    const size_t per = ((n + kGrain - 1) / kGrain + parts - 1) / parts * kGrain;
    const size_t b = std::min(n, id * per), e = std::min(n, b + per);
    if (b < e) f(b, e);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void leaky_span(const float* x,
                                                                             float* y, size_t n,
                                                                             float slope) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i], m = v * slope;  // both sides computed: no branch, so it vectorises
    y[i] = v < 0.f ? m : v;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void add_span(float* y, const float* x,
                                                                           size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += x[i];
}

// y = lrelu((y + x) * scale) on [lo, hi): two resblock groups' sums to the stage output.
__attribute__((target_clones("avx512f", "avx2", "default"))) void mean_leaky_span(
    float* y, const float* x, size_t n, float scale, float slope) {
  for (size_t i = 0; i < n; ++i) {
    const float v = (y[i] + x[i]) * scale, m = v * slope;
    y[i] = v < 0.f ? m : v;
  }
}
void mean_leaky(float* y, const float* x, size_t lo, size_t hi, float scale, float slope) {
  mean_leaky_span(y + lo, x + lo, hi - lo, scale, slope);
}

void leaky(const float* x, float* y, size_t n, float slope) {
  parallel_range(n, [&](size_t b, size_t e) { leaky_span(x + b, y + b, e - b, slope); });
}
void add_into(float* y, const float* x, size_t n) {
  parallel_range(n, [&](size_t b, size_t e) { add_span(y + b, x + b, e - b); });
}

}  // namespace

Decoder::Decoder(const SynthesizerConfig& c, const Weights& w, nn::Backend b) : c_(c) {
  nsf_ = c.f0;
  upp_ = c.samples_per_frame();
  const int64_t c0 = c.upsample_initial_channel;
  nn::Conv1dParams pre{c.inter_channels, c0, 7};
  pre.pad(3);
  conv_pre_ = nn::Conv1d(pre, w.get("dec.conv_pre.weight"), &w.get("dec.conv_pre.bias", {c0}), b);
  if (c.gin_channels > 0) {
    has_cond_ = true;
    cond_ = nn::Linear(w.get("dec.cond.weight", {c0, c.gin_channels, 1}),
                       &w.get("dec.cond.bias", {c0}), nn::Backend::kReference);
  }
  const size_t n_up = c.upsample_rates.size();
  int64_t ch = c0;
  for (size_t i = 0; i < n_up; ++i) {
    const std::string s = std::to_string(i);
    const int64_t u = c.upsample_rates[i], k = c.upsample_kernel_sizes[i];
    nn::ConvTranspose1dParams up{ch, ch / 2, k, u, (k - u) / 2};
    ups_.emplace_back(up, w.weight("dec.ups." + s), &w.get("dec.ups." + s + ".bias", {ch / 2}), b);
    ch /= 2;
    if (nsf_) {
      // ref: models.py GeneratorNSF.__init__ noise_convs
      int64_t stride_f0 = 1;
      for (size_t j = i + 1; j < n_up; ++j) stride_f0 *= c.upsample_rates[j];
      nn::Conv1dParams nc{1, ch, i + 1 < n_up ? 2 * stride_f0 : 1};
      if (i + 1 < n_up) {
        nc.stride = stride_f0;
        nc.pad(stride_f0 / 2);
      }
      noise_convs_.emplace_back(nc, w.get("dec.noise_convs." + s + ".weight"),
                                &w.get("dec.noise_convs." + s + ".bias", {ch}), b);
    }
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j) {
      const std::string r =
          "dec.resblocks." + std::to_string(i * c.resblock_kernel_sizes.size() + j);
      const int64_t kk = c.resblock_kernel_sizes[j];
      const auto& dil = c.resblock_dilation_sizes[j];
      ResBlock rb;
      for (size_t d = 0; d < dil.size(); ++d) {
        const std::string ds = std::to_string(d);
        nn::Conv1dParams p1{ch, ch, kk};
        p1.dilation = dil[d];
        p1.pad((kk * dil[d] - dil[d]) / 2);
        if (c.resblock == "1") {
          p1.post = nn::PostOp::kLeakyRelu;  // the leaky ReLU before convs2[d], fused
          p1.alpha = 0.1f;
          rb.c1.emplace_back(p1, w.weight(r + ".convs1." + ds),
                             &w.get(r + ".convs1." + ds + ".bias"), b);
          nn::Conv1dParams p2{ch, ch, kk};
          p2.pad((kk - 1) / 2);
          rb.c2.emplace_back(p2, w.weight(r + ".convs2." + ds),
                             &w.get(r + ".convs2." + ds + ".bias"), b);
        } else {
          rb.c1.emplace_back(p1, w.weight(r + ".convs." + ds), &w.get(r + ".convs." + ds + ".bias"),
                             b);
        }
      }
      resblocks_.push_back(std::move(rb));
    }
  }
  nn::Conv1dParams post{ch, 1, 7};
  post.pad(3);
  post.post = nn::PostOp::kTanh;
  conv_post_ = nn::Conv1d(post, w.get("dec.conv_post.weight", {1, ch, 7}), nullptr, b);
  if (nsf_) {
    lin_w_ = w.get("dec.m_source.l_linear.weight", {1, 1})[0];
    lin_b_ = w.get("dec.m_source.l_linear.bias", {1})[0];
  }
  // Receptive field, walking back from the output: r = the reach (samples at the current
  // stage's rate, each side) of one output sample.
  int64_t r = (conv_post_.params().kernel - 1) / 2;
  tail_margin_.assign(n_up, 0);
  for (size_t i = n_up; i-- > 0;) {
    int64_t reach = 0;
    for (size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j) {
      const int64_t kk = c.resblock_kernel_sizes[j];
      int64_t rj = 0;
      for (int64_t d : c.resblock_dilation_sizes[j]) {
        rj += d * (kk - 1) / 2 + (c.resblock == "1" ? (kk - 1) / 2 : 0);
      }
      reach = std::max(reach, rj);
    }
    r += reach + 2;  // + the noise conv's edge (its input is sliced from the whole source)
    // ConvTranspose1d(k, u): output n reads inputs m with m*u - pad + j = n, 0 <= j < k.
    const int64_t u = c.upsample_rates[i], k = c.upsample_kernel_sizes[i];
    r = (r + k + u - 1) / u + 1;
    tail_margin_[i] = r;
  }
  margin_frames_ = r + (conv_pre_.params().kernel - 1) / 2 + 1;
}

const float* Decoder::source(const float* f0, int64_t frames, int64_t n_res, std::mt19937_64* rng,
                             DecoderScratch& s) const {
  // ref: models.py SineGen._f02sine / forward (per-frame fmod cumulative phase, harmonic_num=0)
  // and SourceModuleHnNSF.forward.
  const int64_t upp = upp_, n = frames * upp;
  const float sr = static_cast<float>(c_.sample_rate_hz);
  float* sine = s.sine.at(static_cast<size_t>(n));
  double acc = 0.0;     // torch.cumsum accumulates float32 in double on CPU
  float rad_acc = 0.f;  // cumsum(...).fmod(1.0) of the previous frame
  const float two_pi = static_cast<float>(2.0 * M_PI);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t t = 0; t < frames; ++t) {
    const float base = f0[t] / sr;
    const bool voiced = f0[t] > 0.f;
    for (int64_t k = 0; k < upp; ++k) {
      float rad = base * static_cast<float>(k + 1);
      if (t > 0) rad += rad_acc;
      float v = voiced ? std::sin(two_pi * rad) * 0.1f : 0.f;
      if (rng) {
        float amp = voiced ? 0.003f : 0.1f / 3.f;
        v += amp * normal(*rng);
      }
      sine[t * upp + k] = v;
    }
    float last = base * static_cast<float>(upp);
    float rad2 = std::fmod(last + 0.5f, 1.f) - 0.5f;
    acc += rad2;
    rad_acc = std::fmod(static_cast<float>(acc), 1.f);
  }
  for (int64_t i = 0; i < n; ++i) sine[i] = std::tanh(sine[i] * lin_w_ + lin_b_);
  if (n_res >= 0 && n_res * upp != n) {
    float* har = s.har.at(static_cast<size_t>(n_res * upp));
    nn::interpolate_linear(sine, n, 1, har, n_res * upp);
    return har;
  }
  return sine;
}

const float* Decoder::forward(const float* x_in, int64_t frames, const float* f0, const float* g,
                              int64_t n_res, std::mt19937_64* rng, DecoderScratch& s,
                              int64_t plan_frames, int64_t* samples, int64_t chunk_frames,
                              SynthesizerWorkspace::DecoderSplit split) const {
  // ref: models.py GeneratorNSF.forward / Generator.forward
  const float* har = nsf_ ? source(f0, frames, n_res, rng, s) : nullptr;
  const int64_t ci = c_.inter_channels;
  const float* xp = x_in;
  int64_t t = frames;
  if (n_res >= 0 && n_res != frames) {
    float* xi = s.xi.at(static_cast<size_t>(n_res * ci));
    nn::interpolate_linear(x_in, frames, ci, xi, n_res);
    xp = xi;
    t = n_res;
  }
  *samples = t * upp_;
  float* audio = s.audio.at(static_cast<size_t>(t * upp_));
  if (chunk_frames <= 0 || t <= chunk_frames) {
    run(xp, t, har, g, s, std::max(plan_frames, t), audio, split);
    return audio;
  }
  // Equal pieces of at most chunk_frames; each runs with `m` real frames of context on both
  // sides (fewer at the ends, where the whole decode has its zero padding too), and only its
  // own frames' samples are kept. The source is sliced from the whole-length one above, so its
  // running phase and noise are those of the whole call. Every piece is planned at the same
  // length, so they share one set of primitives.
  const int64_t m = margin_frames_;
  const int64_t pieces = (t + chunk_frames - 1) / chunk_frames;
  const int64_t core = (t + pieces - 1) / pieces;
  const int64_t plan = core + 2 * m;
  float* piece = s.piece.at(static_cast<size_t>(plan * upp_));
  for (int64_t a = 0; a < t; a += core) {
    const int64_t b = std::min(t, a + core);
    const int64_t lo = std::max<int64_t>(0, a - m), hi = std::min(t, b + m);
    run(xp + lo * ci, hi - lo, har ? har + lo * upp_ : nullptr, g, s, plan, piece, split);
    std::memcpy(audio + a * upp_, piece + (a - lo) * upp_,
                sizeof(float) * static_cast<size_t>((b - a) * upp_));
  }
  return audio;
}

int64_t Decoder::rest_up(size_t from) const {
  int64_t r = 1;
  for (size_t i = from; i < ups_.size(); ++i) r *= c_.upsample_rates[i];
  return r;
}

size_t Decoder::split_stage(int64_t frames) const {
  // The first stage whose input is at least 16 contexts long: the two halves then redo at most
  // an eighth of that stage's work (less for the later, longer stages). (At 8, a 40k stream
  // block would split at the 128-channel stage, whose DFT convs lose more on the shorter
  // halves than the split gains.)
  int64_t t = frames;
  for (size_t i = 0; i < ups_.size(); ++i) {
    if (t >= 16 * tail_margin_[i]) return i;
    t = ups_[i].out_length(t);
  }
  return ups_.size();
}

void Decoder::run(const float* xp, int64_t t, const float* har, const float* g, DecoderScratch& s,
                  int64_t plan_frames, float* audio,
                  SynthesizerWorkspace::DecoderSplit split) const {
  const int64_t plan = std::max(plan_frames, t);
  const int64_t c0 = conv_pre_.params().out_channels;
  float* x = s.act.at(static_cast<size_t>(t * c0));
  float* pre = s.pre.at(static_cast<size_t>(t * c0 + c0));  // + the speaker bias row
  conv_pre_.forward(xp, t, pre, nn::ConvEpilogue{}, plan);
  if (has_cond_) {
    float* gc = pre + t * c0;
    cond_.forward(g, 1, gc);
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t ch = 0; ch < c0; ++ch) pre[i * c0 + ch] += gc[ch];
    }
  }
  leaky(pre, x, static_cast<size_t>(t * c0), 0.1f);
  const size_t n_up = ups_.size();
  using Split = SynthesizerWorkspace::DecoderSplit;
  const bool want =
      split == Split::kOn || (split == Split::kAuto && nn::num_threads() >= 2 &&
                              !omp_in_parallel() && plan <= SynthesizerWorkspace::kSplitMaxFrames);
  const size_t at = want ? split_stage(plan) : n_up;
  int64_t tt = 0;
  if (at >= n_up) {
    run_stages(0, n_up, x, t, plan, har, s.main, audio, &tt);
    return;
  }
  // Stages before the split on the whole decode, each stage's resblocks in two groups (one
  // thread each).
  const float* xm = x;
  int64_t tm = t, pm = plan;
  if (at > 0) {
    xm = run_stages(0, at, x, t, plan, har, s.main, nullptr, &tm, /*groups=*/true);
    for (size_t i = 0; i < at; ++i) pm = ups_[i].out_length(pm);
  }
  // Two halves of the rest: [0, mid) and [mid, tm), each computed over its span widened by the
  // context m (clipped at the ends, where the whole decode has its own zero padding) and kept
  // only on its own samples. Both halves are planned at one length: one set of primitives.
  const int64_t m = tail_margin_[at], ch = c0 >> at, rest = rest_up(at);
  const int64_t mid = (tm + 1) / 2;
  const int64_t plan_half = std::max((pm + 1) / 2 + m, std::max(mid, tm - mid) + m);
  const auto half = [&](int id) {
    const int64_t a = id == 0 ? 0 : mid, b = id == 0 ? mid : tm;
    const int64_t lo = std::max<int64_t>(0, a - m), hi = std::min(tm, b + m);
    StageScratch& hs = s.half[id];
    float* out = hs.audio.at(static_cast<size_t>(plan_half * rest));
    int64_t unused = 0;
    run_stages(at, n_up, xm + lo * ch, hi - lo, plan_half, har ? har + lo * rest : nullptr, hs, out,
               &unused);
    std::memcpy(audio + a * rest, out + (a - lo) * rest,
                sizeof(float) * static_cast<size_t>((b - a) * rest));
  };
  if (nn::num_threads() >= 2 && !omp_in_parallel()) {
#pragma omp parallel num_threads(2)
    {
      // One half per thread (both on one if the runtime gives fewer threads).
      const int id = omp_get_thread_num(), n = omp_get_num_threads();
      for (int h = id; h < 2; h += n) half(h);
    }
  } else {
    half(0);
    half(1);
  }
}

int64_t Decoder::resblock_reach(size_t j) const {
  const ResBlock& rb = resblocks_[j];
  int64_t r = 0;
  for (size_t d = 0; d < rb.c1.size(); ++d) {
    const nn::Conv1dParams& p = rb.c1[d].params();
    r += p.dilation * (p.kernel - 1) / 2;
    if (!rb.c2.empty()) r += (rb.c2[d].params().kernel - 1) / 2;
  }
  return r;
}

int64_t Decoder::piece_split(size_t stage, int64_t t, int64_t plan_t) const {
  const size_t nk = c_.resblock_kernel_sizes.size();
  if (nk < 3) return 0;
  // Every resblock conv keeps the length (stride 1, "same" padding): a chain on L frames costs
  // the sum of its convs' work(L) (Conv1d::work: taps per frame direct; whole chunks of tiles on
  // the DFT path, so the cost steps with the length).
  const auto chain = [&](size_t j, int64_t len) {
    const ResBlock& rb = resblocks_[stage * nk + j];
    double w = 0;
    for (const auto& c : rb.c1) w += c.work(len, plan_t);
    for (const auto& c : rb.c2) w += c.work(len, plan_t);
    return w;
  };
  const size_t shared = nk - 2;
  double first = 0;
  for (size_t j = 0; j < shared; ++j) first += chain(j, t);
  const double last = chain(nk - 1, t);
  const int64_t m = resblock_reach(stage * nk + shared);
  double best = std::max(first + chain(shared, t), last);  // no cut
  int64_t cut = 0;
  // 64 candidate cuts: within a sixty-fourth of the stage of the best one.
  for (int s = 1; s < 64; ++s) {
    const int64_t a = t * s / 64;
    if (a <= m || a >= t - m) continue;
    const double w = std::max(first + chain(shared, std::min(t, a + m)),
                              last + chain(shared, t - std::max<int64_t>(0, a - m)));
    if (w < best) {
      best = w;
      cut = a;
    }
  }
  return cut;
}

const float* Decoder::run_stages(size_t from, size_t to, const float* xin, int64_t t,
                                 int64_t plan_t, const float* har, StageScratch& b, float* audio,
                                 int64_t* t_out, bool groups) const {
  int64_t ch = conv_pre_.params().out_channels >> from;
  // Largest activation of these stages: length so far * channels.
  size_t cap = static_cast<size_t>(t * ch);
  {
    int64_t tt = t, cc = ch;
    for (size_t i = from; i < to; ++i) {
      tt = ups_[i].out_length(tt);
      cc /= 2;
      cap = std::max(cap, static_cast<size_t>(tt * cc));
    }
  }
  const size_t nk = c_.resblock_kernel_sizes.size();
  groups = groups && nk >= 2 && nn::num_threads() >= 2 && !omp_in_parallel();
  // Stage outputs alternate between x and xs (the input, xin, is never written).
  float* bufs[2] = {b.xs.at(cap), b.x.at(cap)};
  float* y = b.y.at(cap);
  float* a0 = b.a0.at(cap);
  float* scratch_a[2] = {b.a.at(cap), groups ? b.a2.at(cap) : nullptr};
  float* scratch_bb[2] = {b.bb.at(cap), groups ? b.bb2.at(cap) : nullptr};
  float* r = b.r.at(cap);
  float* xs2 = groups ? b.xs2.at(cap) : nullptr;
  float* r2 = groups ? b.r2.at(cap) : nullptr;
  const int64_t rest = rest_up(from);
  const int64_t n_har = t * rest, plan_har = plan_t * rest;
  const float* x = xin;
  const float inv_nk = 1.f / static_cast<float>(nk);
  for (size_t i = from; i < to; ++i) {
    float* xs = bufs[(i - from) % 2];
    ups_[i].forward(x, t, y, plan_t);
    plan_t = ups_[i].out_length(plan_t);
    t = ups_[i].out_length(t);
    ch /= 2;
    if (nsf_) {
      nn::ConvEpilogue acc;
      acc.accumulate = true;
      noise_convs_[i].forward(har, n_har, y, acc, plan_har);
    }
    const size_t n = static_cast<size_t>(t * ch);
    // x_{d+1} = x_d + conv2(lrelu(conv1(lrelu(x_d)))) per dilation d (ResBlock2: one conv);
    // the stage output is lrelu(mean over the nk resblocks). lrelu(y) is shared by every
    // resblock's first conv; the first residual add reads y directly; resblock j > 0 folds its
    // running sum into xs before its last conv, whose epilogue accumulates into xs and, for the
    // last resblock, applies the mean and the next leaky ReLU.
    // ResBlock1's first convs on the DFT path read lrelu(x) as they load x (their output goes to
    // bb, never their input); other first convs read a materialised lrelu(x).
    const auto fused = [&](const ResBlock& rb, size_t d) {
      return !rb.c2.empty() && rb.c1[d].uses_fft();
    };
    bool need_a0 = false;
    for (size_t j = 0; j < nk; ++j) need_a0 = need_a0 || !fused(resblocks_[i * nk + j], 0);
    if (need_a0) leaky(y, a0, n, 0.1f);
    const float slope = i + 1 < ups_.size() ? 0.1f : 0.01f;
    // Resblocks [j0, j1) into out (the first writes it, the others add to it), with the scratch
    // of group g; `last`: the chain that ends the stage applies the mean and the leaky ReLU.
    // lo, tt: the chains run on frames [lo, lo + tt) of the stage (out holds tt frames).
    const auto chains = [&](size_t j0, size_t j1, float* out, int g, bool last, int64_t lo,
                            int64_t tt) {
      float* a = scratch_a[g];
      float* bb = scratch_bb[g];
      const float* yv = y + lo * ch;
      const float* a0v = a0 + lo * ch;
      const size_t nv = static_cast<size_t>(tt * ch);
      for (size_t j = j0; j < j1; ++j) {
        const ResBlock& rb = resblocks_[i * nk + j];
        const bool rb1 = !rb.c2.empty();
        const size_t nd = rb.c1.size();
        float* rj = j == j0 ? out : r;
        for (size_t d = 0; d < nd; ++d) {
          const float* in = a0v;
          nn::ConvEpilogue first;
          if (fused(rb, d)) {
            in = d == 0 ? yv : rj;
            first.pre = nn::PostOp::kLeakyRelu;
            first.pre_alpha = 0.1f;
          } else if (d > 0) {
            leaky(rj, a, nv, 0.1f);
            in = a;
          }
          const nn::Conv1d* conv = &rb.c1[d];
          if (rb1) {
            rb.c1[d].forward(in, tt, bb, first, plan_t);
            in = bb;
            conv = &rb.c2[d];
          }
          nn::ConvEpilogue ep;
          float* dst = rj;
          if (d + 1 == nd && j > j0) {
            add_into(out, d == 0 ? yv : rj, nv);
            dst = out;
            ep.accumulate = true;
          } else if (d == 0) {
            ep.residual = yv;
          } else {
            ep.accumulate = true;
          }
          if (last && d + 1 == nd && j + 1 == j1) {
            ep.scale = inv_nk;
            ep.post2 = nn::PostOp::kLeakyRelu;
            ep.alpha2 = slope;
          }
          conv->forward(in, tt, dst, ep, plan_t);
        }
      }
    };
    if (!groups) {
      chains(0, nk, xs, 0, true, 0, t);
    } else {
      // The widest resblock costs about as much as the others together where the convs are
      // direct (cost by taps). Where they take the DFT path (about the same cost each) this
      // gives one thread twice the other's work, and still beats threading each small conv
      // (BM_SynthesizerStream 45.5-47.5 vs 48-55 ms); running the widest in two time halves
      // beside the other two gained no more than noise (41 vs 42 ms).
      // Where that leaves the first thread more work (the DFT path), the second-to-last resblock
      // is cut at frame `cut` so that both threads get the same work (piece_split): each runs it
      // on its side of the cut widened by the resblock's reach (clipped at the ends, where the
      // whole stage has its own zero padding) and adds only its own frames. A 40k stream block's
      // 128-channel stage had 8.7 ms on one thread and 5.4 on the other; BM_SynthesizerStream
      // (threads:2, split:1), four alternating pairs: 46.0 / 45.0 / 45.1 / 39.1 -> 42.4 / 43.2
      // / 41.1 / 37.3 ms.
      const int64_t cut = piece_split(i, t, plan_t);
      const size_t shared = nk - 2;
      const int64_t reach = cut > 0 ? resblock_reach(i * nk + shared) : 0;
      if (cut > 0) ++b.cuts;
#pragma omp parallel num_threads(2)
      {
        const int id = omp_get_thread_num(), nthr = omp_get_num_threads();
        if (id == 0) {
          if (cut > 0) {
            chains(0, shared, xs, 0, false, 0, t);
            const int64_t hi = std::min(t, cut + reach);
            chains(shared, shared + 1, r, 0, false, 0, hi);
            add_into(xs, r, static_cast<size_t>(cut * ch));
          } else {
            chains(0, nk - 1, xs, 0, false, 0, t);
          }
        }
        if (id == 1 || nthr == 1) {
          chains(nk - 1, nk, xs2, 1, false, 0, t);
          if (cut > 0) {
            const int64_t lo = std::max<int64_t>(0, cut - reach);
            chains(shared, shared + 1, r2, 1, false, lo, t - lo);
            add_into(xs2 + cut * ch, r2 + (cut - lo) * ch, static_cast<size_t>((t - cut) * ch));
          }
        }
      }
      parallel_range(n, [&](size_t lo, size_t hi) { mean_leaky(xs, xs2, lo, hi, inv_nk, slope); });
    }
    x = xs;
  }
  if (to == ups_.size() && audio) conv_post_.forward(x, t, audio, nn::ConvEpilogue{}, plan_t);
  *t_out = t;
  return x;
}

}  // namespace rvc::models::synth
