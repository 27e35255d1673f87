// rvc/pipeline/sola.h: SOLA (synchronous overlap-add) joining of independently inferred blocks.
//
// Each real-time block the voice produces `input_frames() = block + buffer + search` samples
// whose first part overlaps the tail of the previous block's output. Sola finds the offset in
// [0, search] at which the new samples best continue the saved tail (normalised
// cross-correlation of the new samples against the saved tail), crossfades the tail into them
// over `buffer` samples with sin^2 / cos^2 windows (sum 1), emits `block` samples and keeps the
// next `buffer` samples as the new tail.
// ref: gui_v1.py (branch 20240604), GUI.audio_infer ("SOLA algorithm from DDSP-SVC"),
//      fade_in_window / fade_out_window in GUI.start_vc
//
// Real-time contract: all memory is allocated in the constructor; process() never allocates,
// locks, logs or throws. One instance per stream; not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace rvc::pipeline {

class Sola {
 public:
  // block_frames >= 1, buffer_frames >= 0, search_frames >= 0. Throws rvc::Error otherwise.
  Sola(int64_t block_frames, int64_t buffer_frames, int64_t search_frames);

  int64_t block_frames() const { return block_; }
  int64_t buffer_frames() const { return buffer_; }
  int64_t search_frames() const { return search_; }
  // Samples process() reads from `infer`.
  int64_t input_frames() const { return block_ + buffer_ + search_; }

  // Offset in [0, search] maximising sum(x[k+i] * tail[i]) / sqrt(sum(x[k+i]^2) + 1e-8); the
  // first maximum wins, so a silent tail (fresh state) gives 0. x has input_frames() samples.
  int64_t find_offset(const float* x) const;

  // Joins one block: reads input_frames() samples of x, writes block_frames() samples to out
  // (out must not alias x) and returns the offset used.
  int64_t process(const float* x, float* out);

  // The saved tail (buffer_frames() samples).
  const float* tail() const { return tail_.data(); }
  // Fade-in window: sin^2(pi/2 * i / (buffer - 1)), i in [0, buffer); fade-out is 1 - fade-in.
  const std::vector<float>& fade_in() const { return fade_in_; }
  // Back to silence (as constructed).
  void reset();

 private:
  int64_t block_ = 0, buffer_ = 0, search_ = 0;
  std::vector<float> tail_, fade_in_;
};

}  // namespace rvc::pipeline
