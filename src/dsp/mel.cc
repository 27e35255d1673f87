#include "rvc/dsp/mel.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"

namespace rvc::dsp {
namespace {

// librosa's Slaney-scale constants.
constexpr double kFSp = 200.0 / 3;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;

double log_step() { return std::log(6.4) / 27.0; }

}  // namespace

// ref: librosa/core/convert.py, hz_to_mel
double hz_to_mel(double hz, bool htk) {
  if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / log_step();
  return hz / kFSp;
}

// ref: librosa/core/convert.py, mel_to_hz
double mel_to_hz(double mel, bool htk) {
  if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= kMinLogMel) return kMinLogHz * std::exp(log_step() * (mel - kMinLogMel));
  return kFSp * mel;
}

// ref: librosa/filters.py (0.9.1), mel
Tensor mel_filterbank(const MelConfig& cfg) {
  if (cfg.sample_rate <= 0 || cfg.n_fft <= 0 || cfg.n_mels <= 0) {
    fail("mel_filterbank: sample_rate ", cfg.sample_rate, ", n_fft ", cfg.n_fft, ", n_mels ",
         cfg.n_mels, " must all be positive");
  }
  const double fmax = cfg.fmax_hz > 0 ? cfg.fmax_hz : cfg.sample_rate / 2.0;
  if (!(cfg.fmin_hz >= 0 && cfg.fmin_hz < fmax)) {
    fail("mel_filterbank: need 0 <= fmin (", cfg.fmin_hz, ") < fmax (", fmax, ")");
  }
  const int n_mels = cfg.n_mels;
  const int bins = cfg.n_fft / 2 + 1;

  // np.fft.rfftfreq(n_fft, 1/sr) = arange(bins) * (1 / (n_fft * (1/sr)))
  const double val = 1.0 / (cfg.n_fft * (1.0 / cfg.sample_rate));
  std::vector<double> fftfreqs(static_cast<size_t>(bins));
  for (int j = 0; j < bins; ++j) fftfreqs[static_cast<size_t>(j)] = j * val;

  // np.linspace(mel(fmin), mel(fmax), n_mels + 2): start + i*step, last point exactly stop.
  const double mel_lo = hz_to_mel(cfg.fmin_hz, cfg.htk);
  const double mel_hi = hz_to_mel(fmax, cfg.htk);
  const int n_pts = n_mels + 2;
  const double step = (mel_hi - mel_lo) / (n_pts - 1);
  std::vector<double> mel_f(static_cast<size_t>(n_pts));
  for (int i = 0; i < n_pts; ++i) {
    const double m = (i == n_pts - 1) ? mel_hi : i * step + mel_lo;
    mel_f[static_cast<size_t>(i)] = mel_to_hz(m, cfg.htk);
  }

  Tensor w({n_mels, bins});
  for (int i = 0; i < n_mels; ++i) {
    const double f0 = mel_f[static_cast<size_t>(i)];
    const double f1 = mel_f[static_cast<size_t>(i + 1)];
    const double f2 = mel_f[static_cast<size_t>(i + 2)];
    const double fdiff_lo = f1 - f0, fdiff_hi = f2 - f1;
    const double enorm = 2.0 / (f2 - f0);
    for (int j = 0; j < bins; ++j) {
      const double fj = fftfreqs[static_cast<size_t>(j)];
      const double lower = -(f0 - fj) / fdiff_lo;
      const double upper = (f2 - fj) / fdiff_hi;
      // librosa stores into a float32 array, then scales it in place by the float64 norm.
      const float tri = static_cast<float>(std::max(0.0, std::min(lower, upper)));
      w[static_cast<int64_t>(i) * bins + j] = static_cast<float>(static_cast<double>(tri) * enorm);
    }
  }
  return w;
}

LogMelSpectrogram::LogMelSpectrogram(const LogMelConfig& cfg)
    : cfg_(cfg), basis_(mel_filterbank(cfg.mel)), stft_(cfg.mel.n_fft, cfg.hop, cfg.win_length) {
  if (!(cfg.clamp > 0)) fail("LogMelSpectrogram: clamp ", cfg.clamp, " must be > 0");
}

// ref: infer/lib/rmvpe.py, MelSpectrogram.forward
Tensor LogMelSpectrogram::compute(const float* audio, int64_t n) const {
  Scratch s;
  Tensor out({cfg_.mel.n_mels, stft_.n_frames(n, true)});
  compute_into(audio, n, out.data(), s);
  return out;
}

void LogMelSpectrogram::compute_into(const float* audio, int64_t n, float* out_data,
                                     Scratch& s) const {
  const int64_t frames = stft_.n_frames(n, true);
  const int bins = stft_.n_bins();
  if (s.mag.size() < static_cast<size_t>(bins * frames)) {
    s.mag.resize(static_cast<size_t>(bins * frames));
  }
  stft_.magnitude(audio, n, true, s.mag.data(), s.stft);
  const double* mag = s.mag.data();
  const int n_mels = cfg_.mel.n_mels;
  std::vector<double>& acc = s.acc;
  if (acc.size() < static_cast<size_t>(frames)) acc.resize(static_cast<size_t>(frames));
  for (int m = 0; m < n_mels; ++m) {
    std::fill(acc.begin(), acc.begin() + frames, 0.0);
    const float* row = basis_.data() + static_cast<int64_t>(m) * bins;
    for (int k = 0; k < bins; ++k) {
      const double wk = row[k];
      if (wk == 0.0) continue;  // the filterbank is sparse: skip bins outside the triangle
      const double* mk = mag + static_cast<int64_t>(k) * frames;
      for (int64_t f = 0; f < frames; ++f) acc[static_cast<size_t>(f)] += wk * mk[f];
    }
    float* dst = out_data + static_cast<int64_t>(m) * frames;
    for (int64_t f = 0; f < frames; ++f) {
      dst[f] = static_cast<float>(std::log(std::max(acc[static_cast<size_t>(f)], cfg_.clamp)));
    }
  }
}

}  // namespace rvc::dsp
