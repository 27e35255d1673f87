// rvc/pipeline/stream.h: the real-time block processor (one live voice stream).
//
// In the manner of upstream's realtime GUI (gui_v1.py GUI.audio_infer + infer/lib/rtrvc.py
// RVC.infer): every block of `block_frames()` device-rate samples is gain-ramped, noise-suppressed
// (rvc/dsp/denoise.h; optional, hot-switchable), silence-gated (RMS in dB per 10 ms), appended to
// a sliding input window, converted by a VoiceBackend, joined to the previous block with SOLA
// (rvc/pipeline/sola.h) and written out.
//
// Voice backends:
//  - the built-in DSP voice (make_builtin_backend): a streaming pitch/formant shifter whose
//    output is already continuous, so SOLA runs with no search and no crossfade window (they
//    would only add delay);
//  - the RVC model backend (make_rvc_backend: HuBERT + F0 + index + synthesizer with
//    skip_head/return_length), block-wise, joined by SOLA.
//
// Latency (samples at the device rate): algorithmic = block (collecting one block) + SOLA
// crossfade + SOLA search (both 0 for continuous backends) + the backend's own delay + the noise
// suppressor's (always, whatever its level, so that switching it never moves the output) + one
// block when the backend is pipelined (StreamConfig::pipeline). A sample entering process()
// leaves it latency_frames() - block_frames() samples later.
//
// Real-time contract: the constructor allocates everything; process() never allocates, locks,
// logs or throws with either backend (tests/unit/pipeline/stream_test.cc and
// stream_rvc_alloc_test.cc count operator new to prove it; oneDNN's own execute keeps a few
// small heap nodes per primitive call, counted apart). The RVC backend's compute per block is
// still far longer than an audio callback may take, so it runs on a worker thread
// (audio/stream_runner.h); its first block on a thread other than the constructing one (or
// warm_up()'s) creates that thread's model scratch once.
// set_params() may be called from any thread at any time (it takes a lock only on the writer
// side); process() picks the newest parameters up at its next block through a lock-free triple
// buffer, and gains ramp over a block, pitch/formant glide, so changes do not click.
// process(), reset() and the accessors are for one thread (the worker) at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rvc/dsp/denoise.h"
#include "rvc/pipeline/sola.h"

namespace rvc::pipeline {

// Parameters that may change while the stream runs.
struct StreamParams {
  double pitch_semitones = 0.0;    // [-24, 24]
  double formant_semitones = 0.0;  // [-12, 12]
  double index_rate = 0.0;         // [0, 1] (RVC backend)
  double rms_mix = 0.0;            // [0, 1]: 1 keeps the voice's loudness envelope (RVC backend)
  double threshold_db = -60.0;     // silence gate on input RMS; <= -60 turns the gate off
  double input_gain_db = 0.0;      // [-60, 30]
  double output_gain_db = 0.0;     // [-60, 30]
  // Noise suppression of the input (after input gain, before the gate); off = only its delay.
  dsp::NoiseLevel noise_suppression = dsp::NoiseLevel::kOff;
  // Throws rvc::Error naming the bad field.
  void validate() const;
};

struct StreamConfig {
  int sample_rate = 48000;  // device rate, [8000, 192000]
  double block_ms = 100.0;  // rounded to whole 10 ms units (upstream's zc), >= 10
  // Left context the RVC backend re-reads each block. Upstream's GUI starts at 2.5 s; 0.5 s is
  // what a 2-core machine holds at block 100 ms in f32 (2.5 s: 176 ms per block there).
  double extra_ms = 500.0;
  double crossfade_ms = 40.0;  // SOLA crossfade (upstream's sola_buffer); <= block where SOLA runs
  double sola_search_ms = 10.0;
  std::string f0_method = "rmvpe";  // RVC backend: rmvpe | yin
  // RVC backend: compute a block's features (HuBERT, F0, index) on one thread while the
  // previous block is synthesized on the other. Each block then costs about the slower of the
  // two halves on one core instead of the whole on two (which scale worse), at one block more
  // latency. Meant for 2+ threads (rvc/nn/backend.h; on one it only adds the latency); no effect
  // on continuous backends.
  bool pipeline = false;
  StreamParams params;

  void validate() const;
  // One line per field, "name = value".
  std::string to_string() const;

  // Derived sizes in device samples (validate() first).
  int64_t zc() const;  // samples per 10 ms
  int64_t block_frames() const;
  int64_t extra_frames() const;
  int64_t crossfade_frames() const;
  int64_t sola_search_frames() const;
};

// What a backend is told at Stream construction.
struct StreamGeometry {
  int sample_rate = 0;
  int64_t block = 0;      // new samples per process()
  int64_t crossfade = 0;  // SOLA buffer (0 for continuous backends)
  int64_t search = 0;     // SOLA search (0 for continuous backends)
  int64_t extra = 0;      // configured left context
  std::string f0_method;
  bool pipeline = false;  // StreamConfig::pipeline
  int64_t infer_frames() const { return block + crossfade + search; }
};

// Converts the input window into voice samples. prepare() allocates; infer() of a real-time-safe
// backend (the built-in voice) does not.
class VoiceBackend {
 public:
  virtual ~VoiceBackend() = default;
  // One human line, e.g. "built-in DSP voice".
  virtual std::string describe() const = 0;
  // True when consecutive infer() outputs already join seamlessly (a streaming voice): the
  // Stream then skips the SOLA search and crossfade windows.
  virtual bool continuous() const = 0;
  // Called once before the first infer(): size scratch and state for the geometry, starting
  // from the initial parameters (so no glide from defaults). May throw rvc::Error.
  virtual void prepare(const StreamGeometry& g, const StreamParams& initial) = 0;
  // Input history the backend wants, newest block included (>= g.block).
  virtual int64_t window_frames(const StreamGeometry& g) const = 0;
  // The backend's own delay in device samples (look-ahead, resampler delay).
  virtual int64_t latency_frames() const = 0;
  // Output delay from pipelining (g.pipeline), in device samples: a pipelined infer() returns
  // the voice for the window one call earlier.
  virtual int64_t pipeline_frames() const { return 0; }
  // Real-time: window holds window_frames() samples, newest block last. Writes g.infer_frames()
  // samples: the voice for input times [end - infer_frames - latency, end - latency).
  virtual void infer(const float* window, float* out, const StreamParams& p) = 0;
  // Clears signal state (not parameters).
  virtual void reset() = 0;
};

// The built-in DSP voice (rvc/dsp/voice_changer.h) as a continuous backend.
std::unique_ptr<VoiceBackend> make_builtin_backend();

class VoiceModels;
// An RVC voice (rvc/pipeline/voice_models.h) as a block-wise backend, the port of upstream's
// rtrvc.py RVC.infer: HuBERT over the whole 16 kHz window (extra + crossfade + search + block),
// index blend and F0 (pitch cache) on the new part, synthesizer with skip_head / return_length /
// return_length2 (formant), model rate resampled to the device rate, optional rms mix. Needs a
// device rate that is a multiple of 100 Hz and, for f0_method rmvpe with an f0 voice, an RMVPE
// model. Real-time safe after construction: the models run through workspaces sized for the
// stream's fixed window, so Stream::process allocates nothing with this backend (a formant change
// rebuilds a resampler table in place). Its compute is long, so it runs on the worker thread.
std::unique_ptr<VoiceBackend> make_rvc_backend(std::shared_ptr<const VoiceModels> models,
                                               int64_t speaker = 0);

// Breakdown of latency_frames().
struct StreamLatency {
  int64_t block = 0, crossfade = 0, search = 0, backend = 0, denoise = 0, pipeline = 0;
  int64_t total() const { return block + crossfade + search + backend + denoise + pipeline; }
};

class Stream {
 public:
  // Validates config, prepares the backend and allocates all state. Throws rvc::Error.
  Stream(const StreamConfig& config, std::unique_ptr<VoiceBackend> backend);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // One block: reads block_frames() samples from in, writes block_frames() samples to out
  // (clamped to [-1, 1], non-finite values become 0). in and out may alias.
  void process(const float* in, float* out);

  // Validates (throws rvc::Error, nothing changes) and publishes new parameters; any thread.
  void set_params(const StreamParams& p);
  // The newest parameters given to set_params() (or the config's).
  StreamParams params() const;

  const StreamConfig& config() const { return config_; }
  const VoiceBackend& backend() const { return *backend_; }
  int sample_rate() const { return config_.sample_rate; }
  int64_t block_frames() const { return geometry_.block; }
  StreamLatency latency() const;
  int64_t latency_frames() const { return latency().total(); }
  double latency_ms() const;
  // SOLA offset chosen for the last block (diagnostics).
  int64_t last_sola_offset() const { return last_offset_; }
  // Blocks processed since construction / reset.
  int64_t blocks() const { return blocks_; }
  // Back to silence with the current parameters. Not concurrently with process(); not
  // real-time (re-initialises the noise suppressor).
  void reset();
  // Runs `blocks` silent blocks and resets: models do their one-time lazy set-up (kernel JIT,
  // first allocations) here instead of in the first live block. Not real-time; call before the
  // audio starts.
  void warm_up(int blocks = 2);

 private:
  // Lock-free single-reader triple buffer; writers serialise on a mutex (never the reader).
  class ParamBox {
   public:
    explicit ParamBox(const StreamParams& p);
    void write(const StreamParams& p);
    // Reader: true and *out set when newer parameters were published since the last read.
    bool read(StreamParams* out);
    StreamParams latest() const;

   private:
    StreamParams slots_[3];
    std::atomic<int> middle_{1};  // slot index | kDirty
    int front_ = 0, back_ = 2;
    mutable std::mutex write_mu_;
    StreamParams latest_;
  };

  void gate_and_gain(const float* in);

  StreamConfig config_;
  StreamGeometry geometry_;
  std::unique_ptr<VoiceBackend> backend_;
  ParamBox box_;
  StreamParams cur_;  // worker's copy
  Sola sola_;
  dsp::NoiseSuppressor denoise_;
  int64_t window_frames_ = 0;
  std::vector<float> window_;  // backend input, newest block last
  std::vector<float> raw_;     // 3 zc of gain-applied history + the new block (gate RMS)
  std::vector<float> infer_;   // backend output, geometry_.infer_frames()
  std::vector<float> block_out_;
  float in_gain_ = 1.0f, out_gain_ = 1.0f, gate_gain_ = 1.0f;
  int64_t last_offset_ = 0, blocks_ = 0;
};

}  // namespace rvc::pipeline
