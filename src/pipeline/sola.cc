#include "rvc/pipeline/sola.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"

namespace rvc::pipeline {

Sola::Sola(int64_t block_frames, int64_t buffer_frames, int64_t search_frames)
    : block_(block_frames), buffer_(buffer_frames), search_(search_frames) {
  if (block_ < 1 || buffer_ < 0 || search_ < 0 || block_ > (int64_t{1} << 28) ||
      buffer_ > (int64_t{1} << 24) || search_ > (int64_t{1} << 24)) {
    fail("Sola: expected block >= 1, buffer >= 0, search >= 0 frames, got ", block_, ", ", buffer_,
         ", ", search_);
  }
  tail_.assign(static_cast<size_t>(buffer_), 0.0f);
  fade_in_.resize(static_cast<size_t>(buffer_));
  // ref: gui_v1.py, start_vc: sin(0.5 * pi * linspace(0, 1, sola_buffer_frame)) ** 2
  for (int64_t i = 0; i < buffer_; ++i) {
    const double t = buffer_ > 1 ? static_cast<double>(i) / static_cast<double>(buffer_ - 1) : 1.0;
    const double s = std::sin(0.5 * M_PI * t);
    fade_in_[static_cast<size_t>(i)] = static_cast<float>(s * s);
  }
}

int64_t Sola::find_offset(const float* x) const {
  if (buffer_ == 0 || search_ == 0) return 0;
  // ref: gui_v1.py, audio_infer: cor_nom = conv1d(x, sola_buffer), cor_den = sqrt(conv1d(x^2,
  // ones) + 1e-8), argmax(cor_nom / cor_den). Energies use a sliding sum in double.
  double energy = 0.0;
  for (int64_t i = 0; i < buffer_; ++i) energy += static_cast<double>(x[i]) * x[i];
  int64_t best = 0;
  double best_score = -1e300;
  const float* t = tail_.data();
  for (int64_t k = 0; k <= search_; ++k) {
    if (k > 0) {
      const double out_v = x[k - 1], in_v = x[k + buffer_ - 1];
      energy = std::max(0.0, energy - out_v * out_v + in_v * in_v);
    }
    float nom = 0.0f;
    const float* xk = x + k;
    for (int64_t i = 0; i < buffer_; ++i) nom += xk[i] * t[i];
    const double score = nom / std::sqrt(energy + 1e-8);
    if (score > best_score) {
      best_score = score;
      best = k;
    }
  }
  return best;
}

int64_t Sola::process(const float* x, float* out) {
  const int64_t offset = find_offset(x);
  const float* y = x + offset;
  const int64_t nfade = std::min(buffer_, block_);
  for (int64_t i = 0; i < nfade; ++i) {
    const float w = fade_in_[static_cast<size_t>(i)];
    out[i] = y[i] * w + tail_[static_cast<size_t>(i)] * (1.0f - w);
  }
  std::copy(y + nfade, y + block_, out + nfade);
  std::copy(y + block_, y + block_ + buffer_, tail_.begin());
  return offset;
}

void Sola::reset() { std::fill(tail_.begin(), tail_.end(), 0.0f); }

}  // namespace rvc::pipeline
