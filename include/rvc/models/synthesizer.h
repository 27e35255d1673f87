// rvc/models/synthesizer.h: the RVC voice synthesizer (VITS-style TextEncoder, reverse
// residual-coupling flow, NSF-HiFiGAN or plain HiFi-GAN decoder).
//
// ref: infer/lib/infer_pack/models.py SynthesizerTrnMs256NSFsid, SynthesizerTrnMs768NSFsid and
// the _nono variants (upstream branch 20240604 == main 7ef1986), infer().
//
// Hyper-parameters come from the checkpoint's 18-value config list (SynthesizerConfig) plus
// tensor shapes (phone dim, speakers, flow depth, ...); nothing is hard-coded to one size.
// Weight-norm pairs (weight_g / weight_v) are folded once at construction; weights must already
// be float32 (the checkpoint reader converts fp16). enc_q.* weights are not needed.
//
// Layout: all sequences are time-major [T][C] (see rvc/nn/backend.h). The named intermediates
// are returned time-major too: m_p / logs_p / z are [T'][inter] where upstream has [1, inter, T'].
//
// Thread-safety: a constructed Synthesizer is immutable; infer() is const and may run from
// several threads at once (each with its own workspace).
//
// Heap use: infer(request) allocates its activations and outputs per call. For real-time use,
// create a SynthesizerWorkspace once (make_workspace) and call infer(request, workspace): it
// writes into the workspace's buffers and, once a call of the same shape (frame count,
// skip_head/return_length/return_length2) has run on that workspace, allocates nothing in rvc
// code (oneDNN 2.6 builds a small argument map inside each primitive execute; the unit test
// synth_workspace_test counts those apart). Precision: the layers take nn::default_precision() at
// construction (bf16 opt-in, see rvc/nn/backend.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/nn/backend.h"

namespace rvc::formats {
struct VoiceModelInfo;
}

namespace rvc::models {

// The upstream config list (infer/lib/infer_pack/models.py constructor arguments) that matters
// for inference, and whether the model is pitch-conditioned (NSF decoder).
struct SynthesizerConfig {
  int64_t inter_channels = 0, hidden_channels = 0, filter_channels = 0;
  int64_t n_heads = 0, n_layers = 0, kernel_size = 0;
  std::string resblock = "1";  // "1" (ResBlock1) or "2" (ResBlock2)
  std::vector<int64_t> resblock_kernel_sizes;
  std::vector<std::vector<int64_t>> resblock_dilation_sizes;
  std::vector<int64_t> upsample_rates, upsample_kernel_sizes;
  int64_t upsample_initial_channel = 0;
  int64_t gin_channels = 0;
  int64_t sample_rate_hz = 0;
  bool f0 = true;

  // Throws rvc::Error naming the first bad field.
  void validate() const;
  // Product of upsample_rates: output samples per frame.
  int64_t samples_per_frame() const;
  static SynthesizerConfig from_voice_model(const formats::VoiceModelInfo& info);
};

struct SynthesizerRequest {
  // Content features [T][256 or 768] (upstream phone[0]).
  const Tensor* phone = nullptr;
  // Coarse pitch 1..255 and F0 in Hz (0 = unvoiced), T values each; required iff config.f0.
  const int64_t* pitch = nullptr;
  const float* pitchf = nullptr;
  int64_t phone_length = -1;  // upstream phone_lengths[0]; -1 = T
  int64_t sid = 0;            // speaker id in [0, speakers)
  // Realtime call (both >= 0, or both -1): the decoder renders frames
  // [skip_head, skip_head + return_length); TextEncoder projection and flow run from
  // max(skip_head - 24, 0). return_length2 >= 0 (formant shift) resamples the decoder input
  // and NSF source linearly to return_length2 frames.
  int64_t skip_head = -1, return_length = -1, return_length2 = -1;
  // Upstream draws noise twice (z_p = m_p + exp(logs_p) * N(0,1) * 0.66666, and the SineGen
  // noise). noise=false is upstream with those draws at zero (the golden fixtures' mode).
  bool noise = false;
  uint64_t seed = 0;
};

struct SynthesizerOutputs {
  Tensor audio;   // [samples] in (-1, 1); upstream infer()[0] is [1, 1, samples]
  Tensor m_p;     // [T'][inter], T' = T - max(skip_head - 24, 0)
  Tensor logs_p;  // [T'][inter]
  Tensor z;       // [frames][inter]: flow output (sliced to the decoder frames in rt calls)
};

// Results of the workspace form of infer(): views into the workspace, valid until its next
// infer() call. Same layouts as SynthesizerOutputs.
struct SynthesizerResult {
  const float* audio = nullptr;
  int64_t samples = 0;
  const float* m_p = nullptr;  // [prior_frames][inter]
  const float* logs_p = nullptr;
  int64_t prior_frames = 0;
  const float* z = nullptr;  // [z_frames][inter]
  int64_t z_frames = 0;
  int64_t inter = 0;
};

// Per-caller scratch of a Synthesizer: every activation buffer, sized for the largest call
// seen (make_workspace: for max_frames input frames). Owned by one caller at a time (not
// thread-safe); must not outlive the Synthesizer that made it.
class SynthesizerWorkspace {
 public:
  ~SynthesizerWorkspace();
  SynthesizerWorkspace(SynthesizerWorkspace&&) noexcept;
  SynthesizerWorkspace& operator=(SynthesizerWorkspace&&) noexcept;
  int64_t max_frames() const { return max_frames_; }
  // Decoders of more frames than this run in pieces of at most this many frames, each with
  // the decoder's receptive field of real context on both sides (so the audio is the same up
  // to float rounding), which bounds the decoder's activation memory (about 7 buffers of
  // frames x upsampling x 32 channels) by the piece instead of the input. 0: never split.
  // The default, 15 s of frames, leaves the usual short clips whole (pieces of 600 frames cost
  // about 8% more decoder time than one 1200-frame decode); at 32 s it costs no measurable time
  // and takes the 30 s pipeline's peak from 4.3 to about 3.4 GB.
  static constexpr int64_t kDefaultDecoderChunkFrames = 1500;
  void set_decoder_chunk_frames(int64_t frames);
  int64_t decoder_chunk_frames() const { return decoder_chunk_frames_; }
  // Split of a short decode over two threads, every operation single-threaded (a stream
  // block's small operations scale poorly across threads; whole pieces of work do): the later
  // upsampling stages (those whose input is long enough next to the receptive field of the
  // rest) run as two time halves, each with that receptive field of context; in the earlier
  // stages the widest resblock runs beside the others (and, where that leaves one thread more
  // work, the middle resblock is cut in time between them). The audio is the same up to float
  // rounding. kAuto: for decodes of at most kSplitMaxFrames frames when two or more threads are
  // set; kOn: always (on one thread the halves run one after the other).
  enum class DecoderSplit { kAuto, kOff, kOn };
  static constexpr int64_t kSplitMaxFrames = 100;
  void set_decoder_split(DecoderSplit mode) { decoder_split_ = mode; }
  DecoderSplit decoder_split() const { return decoder_split_; }
  // Stages whose middle resblock was cut in time between the threads, over every call through
  // this workspace so far (the split above; for tests and benchmarks).
  int64_t decoder_resblock_cuts() const;
  struct Buffers;

 private:
  friend class Synthesizer;
  SynthesizerWorkspace();
  int64_t max_frames_ = 0, max_decoder_frames_ = 0;
  int64_t decoder_chunk_frames_ = kDefaultDecoderChunkFrames;
  DecoderSplit decoder_split_ = DecoderSplit::kAuto;
  std::vector<int64_t> decoder_plans_;  // ascending; the decoder runs at the smallest that fits
  std::unique_ptr<Buffers> b_;
};

class Synthesizer {
 public:
  // Throws rvc::Error naming the first missing or mis-shaped weight.
  Synthesizer(const SynthesizerConfig& config, const TensorMap& weights,
              nn::Backend backend = nn::default_backend());
  ~Synthesizer();
  Synthesizer(Synthesizer&&) noexcept;
  Synthesizer& operator=(Synthesizer&&) noexcept;

  const SynthesizerConfig& config() const { return config_; }
  int64_t phone_dim() const;
  int64_t speakers() const;
  // Throws rvc::Error on inconsistent request fields (naming the field).
  SynthesizerOutputs infer(const SynthesizerRequest& request) const;

  // A workspace for calls of up to max_frames input frames whose decoder renders at most
  // max_decoder_frames frames (-1: max_frames; pass return_length2 when formant shift may
  // stretch the output). It allocates every buffer and runs one warm-up call of max_frames
  // frames (so the oneDNN primitives for that size exist). Not real-time: call at set-up.
  // decoder_plans: shorter decoder lengths to prepare as well (e.g. the stream's return_length
  // without formant shift): a call runs its decoder with the primitives of the smallest
  // prepared length that fits, instead of always at max_decoder_frames.
  SynthesizerWorkspace make_workspace(int64_t max_frames, int64_t max_decoder_frames = -1,
                                      const std::vector<int64_t>& decoder_plans = {}) const;
  // infer() into `ws` (see the heap note at the top). Calls longer than the workspace was made
  // for work too; they grow its buffers (allocating) once. Throws like infer(request).
  SynthesizerResult infer(const SynthesizerRequest& request, SynthesizerWorkspace& ws) const;

  struct Parts;

 private:
  SynthesizerConfig config_;
  std::unique_ptr<Parts> parts_;
};

}  // namespace rvc::models
