// Synthesizer workspace: infer(request, workspace) matches infer(request) (full, shorter,
// realtime and formant-shift calls), a repeated call allocates nothing (global operator new is
// replaced by a counting one), and bf16 precision stays close to f32 on a whole synthesizer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "../../../bench/full_size_models.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"
#include "support/alloc_counter.h"

namespace rvc::models {
namespace {

// A small synthesizer of the real structure (NSF decoder, 3 ResBlock1 kernels, 2 upsamples).
SynthesizerConfig small_config() {
  SynthesizerConfig c = bench::config_for(40);
  c.inter_channels = c.hidden_channels = 16;
  c.filter_channels = 32;
  c.n_layers = 2;
  c.resblock_kernel_sizes = {3, 5, 7};
  c.upsample_rates = {4, 2};
  c.upsample_kernel_sizes = {8, 4};
  c.upsample_initial_channel = 32;
  c.gin_channels = 8;
  c.sample_rate_hz = 16000;
  return c;
}

struct Inputs {
  Tensor phone;
  std::vector<int64_t> pitch;
  std::vector<float> pitchf;
  SynthesizerRequest rq;
  explicit Inputs(int64_t t, uint32_t seed = 3) : phone({t, 768}) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, 0.5f);
    for (int64_t i = 0; i < phone.numel(); ++i) phone[i] = d(rng);
    for (int64_t i = 0; i < t; ++i) {
      pitchf.push_back(i % 9 < 7 ? 120.f + 3.f * static_cast<float>(i) : 0.f);
      pitch.push_back(pitchf.back() > 0 ? 50 + i % 40 : 1);
    }
    rq.phone = &phone;
    rq.pitch = pitch.data();
    rq.pitchf = pitchf.data();
    rq.sid = 1;
  }
};

double max_abs_diff(const float* a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < b.numel(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

void expect_same(const SynthesizerResult& r, const SynthesizerOutputs& o) {
  ASSERT_EQ(r.samples, o.audio.numel());
  ASSERT_EQ(r.prior_frames * r.inter, o.m_p.numel());
  ASSERT_EQ(r.z_frames * r.inter, o.z.numel());
  EXPECT_LT(max_abs_diff(r.audio, o.audio), 1e-5);
  EXPECT_LT(max_abs_diff(r.m_p, o.m_p), 1e-5);
  EXPECT_LT(max_abs_diff(r.logs_p, o.logs_p), 1e-5);
  EXPECT_LT(max_abs_diff(r.z, o.z), 1e-5);
}

TEST(SynthesizerWorkspace, MatchesPlainInfer) {
  const SynthesizerConfig c = small_config();
  const TensorMap w = bench::random_weights(c);
  Synthesizer synth(c, w);
  SynthesizerWorkspace ws = synth.make_workspace(60, 70);
  EXPECT_EQ(ws.max_frames(), 60);
  for (int64_t t : {60, 41, 7}) {
    Inputs in(t);
    expect_same(synth.infer(in.rq, ws), synth.infer(in.rq));
  }
  Inputs in(60);
  in.rq.skip_head = 30;
  in.rq.return_length = 20;
  expect_same(synth.infer(in.rq, ws), synth.infer(in.rq));
  in.rq.return_length2 = 23;
  expect_same(synth.infer(in.rq, ws), synth.infer(in.rq));
  in.rq.noise = true;
  in.rq.seed = 9;
  expect_same(synth.infer(in.rq, ws), synth.infer(in.rq));
  // Longer than planned: still right (the workspace grows).
  Inputs big(90);
  expect_same(synth.infer(big.rq, ws), synth.infer(big.rq));
}

// The upstream 40k decoder's layout (upsample rates 10/10/2/2 with kernels 16/16/4/4,
// resblocks 3/7/11 with dilations 1/3/5: the real receptive field) at tiny widths.
SynthesizerConfig real_layout_config(bool f0) {
  SynthesizerConfig c = bench::config_for(40);
  c.inter_channels = c.hidden_channels = 16;
  c.filter_channels = 32;
  c.n_layers = 2;
  c.upsample_initial_channel = 32;
  c.gin_channels = 8;
  c.f0 = f0;
  return c;
}

// Max |audio through `other` - audio through `ref`| for one request; fails the test (and
// returns infinity) when the lengths differ or the reference is silent (nothing compared).
double audio_diff(const Synthesizer& synth, const SynthesizerRequest& rq, SynthesizerWorkspace& ref,
                  SynthesizerWorkspace& other) {
  const SynthesizerResult a = synth.infer(rq, ref);
  const std::vector<float> want(a.audio, a.audio + a.samples);
  const SynthesizerResult b = synth.infer(rq, other);
  EXPECT_EQ(b.samples, static_cast<int64_t>(want.size()));
  if (b.samples != static_cast<int64_t>(want.size())) return INFINITY;
  double diff = 0, peak = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(double(b.audio[i]) - want[i]));
    peak = std::max(peak, std::fabs(double(want[i])));
  }
  EXPECT_GT(peak, 1e-3) << "the decoder produced silence: nothing was compared";
  return diff;
}

// A decode split into pieces (each with the decoder's receptive field of context) gives the
// whole decode's audio, for pitch and no-pitch decoders, with noise, and with the formant
// stretch (return_length2); pieces of odd sizes make the cut points fall anywhere.
TEST(SynthesizerWorkspace, ChunkedDecoderMatchesWholeDecoder) {
  for (const SynthesizerConfig& c :
       {small_config(), real_layout_config(true), real_layout_config(false)}) {
    const TensorMap w = bench::random_weights(c);
    Synthesizer synth(c, w);
    SynthesizerWorkspace whole = synth.make_workspace(16);
    whole.set_decoder_chunk_frames(0);
    for (int64_t chunk : {41}) {
      SynthesizerWorkspace pieces = synth.make_workspace(16);
      pieces.set_decoder_chunk_frames(chunk);
      EXPECT_EQ(pieces.decoder_chunk_frames(), chunk);
      Inputs in(150);
      for (int variant = 0; variant < 3; ++variant) {
        if (variant == 1) in.rq.return_length2 = 171;  // formant stretch
        if (variant == 2) {
          in.rq.noise = true;
          in.rq.seed = 11;
        }
        EXPECT_LT(audio_diff(synth, in.rq, whole, pieces), 1e-5)
            << "f0 " << c.f0 << " chunk " << chunk << " variant " << variant;
      }
    }
  }
}

// A short decode time-split into two halves at a later upsampling stage gives the whole
// decode's audio: the realtime call (skip_head / return_length, with the formant stretch and
// noise) and a plain one, for pitch and no-pitch decoders, at 2 threads (one half each) and at
// 1 (one after the other).
TEST(SynthesizerWorkspace, SplitDecoderMatchesWholeDecoder) {
  const int saved = nn::num_threads();
  for (const SynthesizerConfig& c : {real_layout_config(true), real_layout_config(false)}) {
    const TensorMap w = bench::random_weights(c);
    Synthesizer synth(c, w);
    for (int threads : {2, 1}) {
      nn::set_num_threads(threads);
      SynthesizerWorkspace whole = synth.make_workspace(64);
      whole.set_decoder_split(SynthesizerWorkspace::DecoderSplit::kOff);
      SynthesizerWorkspace halves = synth.make_workspace(64);
      halves.set_decoder_split(SynthesizerWorkspace::DecoderSplit::kOn);
      for (int variant = 0; variant < 4; ++variant) {
        Inputs in(64);
        if (variant >= 1) {
          in.rq.skip_head = 40;
          in.rq.return_length = 23;
        }
        if (variant >= 2) in.rq.return_length2 = 29;  // formant stretch
        if (variant == 3) {
          in.rq.noise = true;
          in.rq.seed = 5;
        }
        EXPECT_LT(audio_diff(synth, in.rq, whole, halves), 1e-5)
            << "f0 " << c.f0 << " threads " << threads << " variant " << variant;
      }
    }
  }
  nn::set_num_threads(saved);
}

// The stream's call (block 100 ms, extra 500 ms: 65 frames, skip_head 50, return_length 15, the
// workspace planned as stream_rvc.cc plans it) on the full-size decoder's channels: at 2 threads
// the 128-channel stage runs its resblocks in two groups, every conv on the DFT path, and cuts
// the middle resblock in time between the threads (Decoder::piece_split); the audio matches the
// decode without the split, with and without noise.
TEST(SynthesizerWorkspace, StreamDecoderWithCutResblockMatchesWholeDecoder) {
  const int saved = nn::num_threads();
  SynthesizerConfig c = real_layout_config(true);
  c.upsample_initial_channel = 512;
  const TensorMap w = bench::random_weights(c);
  Synthesizer synth(c, w);
  nn::set_num_threads(2);
  constexpr int64_t kFrames = 65, kReturn = 15;
  SynthesizerWorkspace whole = synth.make_workspace(kFrames, 2 * kReturn, {kReturn});
  whole.set_decoder_split(SynthesizerWorkspace::DecoderSplit::kOff);
  SynthesizerWorkspace split = synth.make_workspace(kFrames, 2 * kReturn, {kReturn});
  split.set_decoder_split(SynthesizerWorkspace::DecoderSplit::kAuto);
  const int64_t whole_cuts = whole.decoder_resblock_cuts();  // its planning calls may cut
  for (bool noise : {false, true}) {
    Inputs in(kFrames);
    in.rq.skip_head = 50;
    in.rq.return_length = kReturn;
    in.rq.noise = noise;
    in.rq.seed = 7;
    const int64_t cuts = split.decoder_resblock_cuts();
    EXPECT_LT(audio_diff(synth, in.rq, whole, split), 1e-5) << "noise " << noise;
    EXPECT_GT(split.decoder_resblock_cuts(), cuts) << "the split decode cut no resblock";
  }
  EXPECT_EQ(whole.decoder_resblock_cuts(), whole_cuts);
  nn::set_num_threads(saved);
}

TEST(SynthesizerWorkspace, RepeatedCallDoesNotAllocate) {
  const SynthesizerConfig c = small_config();
  const TensorMap w = bench::random_weights(c);
  Synthesizer synth(c, w);
  for (bool rt : {false, true}) {
    SynthesizerWorkspace ws = synth.make_workspace(64);
    Inputs in(64);
    if (rt) {  // the stream's call: realtime slice with formant shift and noise
      in.rq.skip_head = 30;
      in.rq.return_length = 20;
      in.rq.return_length2 = 22;
      in.rq.noise = true;
    }
    synth.infer(in.rq, ws);  // first call of this shape: creates its primitives
    test::AllocCounter counter;
    counter.start();
    const SynthesizerResult r = synth.infer(in.rq, ws);
    counter.stop();
    EXPECT_EQ(counter.outside_dnnl(), 0)
        << "infer(request, workspace) allocated (rt=" << rt << "): " << counter.callers();
    EXPECT_GT(r.samples, 0);
    // oneDNN 2.6 builds a small argument map inside each primitive execute; reported, bounded.
    std::printf("rt=%d: %lld allocations inside libdnnl's execute\n", rt ? 1 : 0,
                static_cast<long long>(counter.dnnl()));
  }
  // The counter works: an allocation inside the counted region is seen.
  test::AllocCounter counter;
  counter.start();
  auto* probe = new std::vector<float>(16);
  counter.stop();
  delete probe;
  EXPECT_GE(counter.outside_dnnl(), 1);
}

TEST(SynthesizerPrecision, Bf16CloseToF32) {
  if (!nn::bf16_supported()) {
    GTEST_SKIP() << "this CPU has no native bf16 (AVX512-BF16); the bf16 mode falls back to f32";
  }
  const SynthesizerConfig c = small_config();
  const TensorMap w = bench::random_weights(c);
  Synthesizer f32(c, w);
  const nn::Precision saved = nn::default_precision();
  nn::set_default_precision(nn::Precision::kBf16);
  Synthesizer bf16(c, w);
  nn::set_default_precision(saved);
  Inputs in(80);
  const Tensor a = f32.infer(in.rq).audio, b = bf16.infer(in.rq).audio;
  ASSERT_EQ(a.numel(), b.numel());
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    num += (double(b[i]) - a[i]) * (double(b[i]) - a[i]);
    den += double(a[i]) * a[i];
  }
  const double rel = std::sqrt(num / den);
  std::printf("bf16 vs f32 audio: relative L2 %.3g (SNR %.1f dB)\n", rel, -20 * std::log10(rel));
  EXPECT_LT(rel, 0.05);  // >= 26 dB SNR through ~40 bf16 layers
  EXPECT_GT(rel, 1e-6);  // and bf16 really ran
}

}  // namespace
}  // namespace rvc::models
