// TD-PSOLA voice changer; see rvc/dsp/voice_changer.h for the algorithm and contract.
//
// Everything is indexed by absolute sample number (int64) into power-of-two rings, so the
// processing order is a pure function of how many input samples have arrived: that is what makes
// the output independent of block size. Work happens as soon as its inputs are known:
//   raw YIN frame f      when input reaches f*hop - half + frame_len
//   smoothed frame f     when raw frame f+1 exists (median of 3)
//   analysis mark at t   when smoothed frames floor(t/hop) and +1 exist
//   synthesis mark at s  when the analysis mark after s exists and the grain's input is in
//   output sample t      at input time t + latency, by which all grains reaching t are added.
#include "rvc/dsp/voice_changer.h"

#include <algorithm>
#include <cmath>

#include "rvc/core/error.h"
#include "rvc/dsp/f0.h"

namespace rvc::dsp {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kChunk = 256;         // internal work unit; any caller block size is split into these
constexpr int64_t kFrameRing = 64;  // YIN frames kept (power of two)
constexpr int64_t kMarkRing = 1024;  // analysis marks kept (power of two)
constexpr double kGlideSeconds = 0.02;
constexpr double kMinNorm = 0.75;     // window-sum floor: gaps of a pitch-down are not blown up
constexpr int kSincZeros = 4;         // half-width of the anti-aliasing kernel, in its own units
constexpr int kSincTable = 256;       // table points per unit
constexpr double kSincCutoff = 0.45;  // cycles per (input sample * gamma): 0.9 of Nyquist
constexpr int kInterpMargin = 2 * kSincZeros + 4;  // input samples past a grain's reach
constexpr int kAnalysisRate = 16000;   // YIN runs on the input decimated to about this rate
constexpr double kPulseSearch = 0.25;  // pulse search reach around a predicted mark, in periods
// Within a voiced run a mark moves only this fraction of the way to the pulse found: enough to
// stay locked on the pulses, without passing peak-picking jitter on to the output's periods.
constexpr double kPull = 0.3;

int64_t next_pow2(int64_t v) {
  int64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

struct Mark {
  double pos = 0.0;     // input sample time
  double period = 0.0;  // samples to the next mark
  bool voiced = false;
};

}  // namespace

void VoiceParams::validate() const {
  if (!(pitch_semitones >= -24.0 && pitch_semitones <= 24.0)) {
    fail("voice: pitch ", pitch_semitones, " semitones out of range [-24, 24]");
  }
  if (!(formant_semitones >= -12.0 && formant_semitones <= 12.0)) {
    fail("voice: formant ", formant_semitones, " semitones out of range [-12, 12]");
  }
}

void VoiceChangerConfig::validate() const {
  if (sample_rate < 8000 || sample_rate > 192000) {
    fail("voice: sample rate ", sample_rate, " Hz out of range [8000, 192000]");
  }
  if (!(f0_min_hz >= 30.0 && f0_max_hz > f0_min_hz * 2 && f0_max_hz * 2.5 <= sample_rate)) {
    fail("voice: f0 range [", f0_min_hz, ", ", f0_max_hz, "] Hz invalid for ", sample_rate, " Hz");
  }
  params.validate();
}

struct VoiceChanger::State {
  explicit State(const VoiceChangerConfig& c)
      : cfg(c), decim(std::max(1, c.sample_rate / kAnalysisRate)), yin([&] {
          F0Config f;
          f.sample_rate = c.sample_rate / std::max(1, c.sample_rate / kAnalysisRate);
          f.f0_min_hz = c.f0_min_hz;
          f.f0_max_hz = c.f0_max_hz;
          f.median_radius = 0;
          return f;
        }()) {
    sr = c.sample_rate;
    unvoiced_step = sr / 100;
    // Pitch frames: every hop_d decimated samples (about 10 ms), i.e. every `hop` input samples.
    hop_d = std::max(1, static_cast<int>(std::lround(sr / 100.0 / decim)));
    hop = hop_d * decim;
    frame_len = yin.frame_length();
    half = frame_len / 2;
    peak_half = std::max(1, sr / 1000);  // +-1 ms energy window
    // Bounds (input samples) behind the latency: the longest mark spacing, a grain's reach into
    // the input and into the output, and how far mark placement trails the input.
    const double tau_max_in = static_cast<double>(yin.tau_max() + 1) * decim;
    const double s_max =
        std::max({(1 + kPulseSearch) * tau_max_in, unvoiced_step + 0.5 * tau_max_in,
                  static_cast<double>(unvoiced_step)});
    const double h_in_max = 2.0 * s_max;  // an unvoiced grain read at formant ratio 2
    h_out_max = 2.0 * s_max;              // a voiced grain at formant ratio 1/2
    const double a_lag = 2.0 * hop + static_cast<double>(frame_len - half + 1) * decim;
    // Synthesis at s needs the mark after s: placed once its predicted time (at most half a
    // period after the mark itself) is a_lag behind the input, plus room for the pulse search.
    const double d =
        std::max(s_max + 0.5 * tau_max_in + a_lag + peak_half + 2, h_in_max + kInterpMargin);
    latency = static_cast<int64_t>(std::ceil(h_out_max + d)) + 2;
    cap = next_pow2(4 * (latency + static_cast<int64_t>(frame_len) * decim + kChunk));
    mask = cap - 1;
    dec_cap = next_pow2(2 * (frame_len + kChunk));
    dec.assign(static_cast<size_t>(dec_cap), 0.0f);
    sinc.resize(static_cast<size_t>(kSincZeros) * kSincTable + 2);
    for (size_t i = 0; i < sinc.size(); ++i) {
      const double u = static_cast<double>(i) / kSincTable;
      const double a = 2.0 * kPi * kSincCutoff * u;
      const double win = u < kSincZeros ? 0.5 + 0.5 * std::cos(kPi * u / kSincZeros) : 0.0;
      sinc[i] = static_cast<float>((u == 0.0 ? 1.0 : std::sin(a) / a) * win);
    }
    in.assign(static_cast<size_t>(cap), 0.0f);
    acc.assign(static_cast<size_t>(cap), 0.0f);
    wsum.assign(static_cast<size_t>(cap), 0.0f);
    frame.assign(static_cast<size_t>(frame_len), 0.0f);
    raw.assign(kFrameRing, 0.0f);
    smooth.assign(kFrameRing, 0.0f);
    marks.assign(kMarkRing, Mark{});
    pitch_target = pitch_cur = c.params.pitch_semitones;
    formant_target = formant_cur = c.params.formant_semitones;
  }

  void reset() {
    std::fill(in.begin(), in.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(wsum.begin(), wsum.end(), 0.0f);
    std::fill(dec.begin(), dec.end(), 0.0f);
    late = 0;
    n_in = n_out = dec_count = raw_count = smooth_count = mark_count = cursor = 0;
    next_a = next_s = 0.0;
    pitch_cur = pitch_target;
    formant_cur = formant_target;
  }

  float input_at(int64_t i) const { return in[static_cast<size_t>(i & mask)]; }

  // Catmull-Rom interpolation; exact at integer positions.
  float input_interp(double p) const {
    const double fl = std::floor(p);
    const int64_t i = static_cast<int64_t>(fl);
    const float t = static_cast<float>(p - fl);
    const float x0 = input_at(i - 1), x1 = input_at(i), x2 = input_at(i + 1), x3 = input_at(i + 2);
    const float a = -0.5f * x0 + 1.5f * x1 - 1.5f * x2 + 0.5f * x3;
    const float b = x0 - 2.5f * x1 + 2.0f * x2 - 0.5f * x3;
    const float c = -0.5f * x0 + 0.5f * x2;
    return ((a * t + b) * t + c) * t + x1;
  }

  // Windowed-sinc read at p with its cutoff lowered by gamma (> 1): reading a grain gamma times
  // faster would otherwise fold the top of the spectrum back down.
  float input_lowpass(double p, double gamma) const {
    const double reach = kSincZeros * gamma;
    const int64_t k0 = static_cast<int64_t>(std::ceil(p - reach));
    const int64_t k1 = static_cast<int64_t>(std::floor(p + reach));
    const double scale = kSincTable / gamma;
    float sum = 0.0f, norm = 0.0f;
    for (int64_t k = k0; k <= k1; ++k) {
      const double u = std::abs(static_cast<double>(k) - p) * scale;
      const size_t i = static_cast<size_t>(u);
      if (i + 1 >= sinc.size()) continue;
      const float fr = static_cast<float>(u - static_cast<double>(i));
      const float w = sinc[i] + (sinc[i + 1] - sinc[i]) * fr;
      sum += w * input_at(k);
      norm += w;
    }
    return norm > 0.0f ? sum / norm : 0.0f;
  }

  void run_pitch_frames() {
    // Decimated copy for the pitch tracker (mean of `decim` samples: crude, but periodicity
    // survives aliasing, and it keeps YIN's cost flat at high rates).
    while ((dec_count + 1) * decim <= n_in) {
      float s = 0.0f;
      for (int j = 0; j < decim; ++j) s += input_at(dec_count * decim + j);
      dec[static_cast<size_t>(dec_count & (dec_cap - 1))] = s / static_cast<float>(decim);
      ++dec_count;
    }
    while (raw_count * hop_d - half + frame_len <= dec_count) {
      const int64_t start = raw_count * hop_d - half;
      for (int j = 0; j < frame_len; ++j) {
        frame[static_cast<size_t>(j)] = dec[static_cast<size_t>((start + j) & (dec_cap - 1))];
      }
      raw[static_cast<size_t>(raw_count & (kFrameRing - 1))] =
          static_cast<float>(yin.analyze(frame.data()).period * decim);
      ++raw_count;
      // Median of 3 (first frame replicated) once the frame after it exists.
      while (smooth_count + 1 < raw_count) {
        const int64_t f = smooth_count;
        const float a = raw_at(f > 0 ? f - 1 : 0), b = raw_at(f), c = raw_at(f + 1);
        smooth[static_cast<size_t>(f & (kFrameRing - 1))] =
            std::max(std::min(a, b), std::min(std::max(a, b), c));
        ++smooth_count;
      }
    }
  }
  float raw_at(int64_t f) const { return raw[static_cast<size_t>(f & (kFrameRing - 1))]; }
  float smooth_at(int64_t f) const { return smooth[static_cast<size_t>(f & (kFrameRing - 1))]; }

  // Integer time in [lo, hi] with the largest short-time energy (+-peak_half samples): where a
  // glottal pulse is. Grains centred on pulses keep a pulse's neighbours at the window's zeros;
  // grains centred between pulses would carry two half-weight pulses a period apart, which combs
  // the spectrum once the spacing changes.
  double find_pulse(double lo_d, double hi_d) const {
    const int64_t lo = static_cast<int64_t>(std::ceil(lo_d));
    const int64_t hi = static_cast<int64_t>(std::floor(hi_d));
    if (hi < lo) return lo_d;
    float e = 0.0f;
    for (int64_t j = lo - peak_half; j <= lo + peak_half; ++j) e += input_at(j) * input_at(j);
    float best_e = e;
    int64_t best = lo;
    for (int64_t t = lo + 1; t <= hi; ++t) {
      const float add = input_at(t + peak_half), sub = input_at(t - peak_half - 1);
      e += add * add - sub * sub;
      if (e > best_e * 1.0001f) {  // ties keep the earlier time, independent of rounding drift
        best_e = e;
        best = t;
      }
    }
    return static_cast<double>(best);
  }

  // Marks are placed one period apart, each moved to the pulse near its predicted time. A mark's
  // `period` is its final distance to the next mark, set when that mark is placed (so marks are
  // final only once their successor exists).
  void run_analysis_marks() {
    while (mark_count - cursor < kMarkRing - 2) {
      const double q = next_a;
      const int64_t f = static_cast<int64_t>(std::floor(q / hop));
      if (f + 1 >= smooth_count) break;
      const double fr = q / hop - static_cast<double>(f);
      const float p0 = smooth_at(f), p1 = smooth_at(f + 1);
      Mark m;
      double est = unvoiced_step;
      if (p0 > 0.0f && p1 > 0.0f) {
        m.voiced = true;
        est = p0 + (p1 - p0) * fr;
      } else {
        const float p = fr < 0.5 ? p0 : p1;
        m.voiced = p > 0.0f;
        if (m.voiced) est = p;
      }
      m.pos = q;
      Mark* prev = mark_count > 0 ? &marks[static_cast<size_t>((mark_count - 1) & (kMarkRing - 1))]
                                  : nullptr;
      if (m.voiced) {
        const double reach = (prev && prev->voiced) ? kPulseSearch * est : 0.5 * est;
        double lo = q - reach;
        if (prev) lo = std::max(lo, prev->pos + 0.5 * std::min(prev->period, est));
        const double peak = find_pulse(lo, q + reach);
        m.pos = (prev && prev->voiced) ? q + kPull * (peak - q) : peak;
      }
      m.period = est;  // provisional until the next mark is placed
      if (prev) prev->period = m.pos - prev->pos;
      marks[static_cast<size_t>(mark_count & (kMarkRing - 1))] = m;
      ++mark_count;
      next_a = m.pos + est;
    }
  }
  const Mark& mark(int64_t k) const { return marks[static_cast<size_t>(k & (kMarkRing - 1))]; }

  void run_synthesis_marks() {
    for (;;) {
      while (cursor + 1 < mark_count && mark(cursor + 1).pos <= next_s) ++cursor;
      // The grain comes from the last mark at or before next_s; its period is final once the
      // mark after it exists. (The latest rather than the nearest mark saves one period of
      // latency; the time mapping error stays under a period, so duration is unaffected.)
      if (cursor + 1 >= mark_count) return;
      const Mark& m = mark(cursor);

      // Voiced grains span +-1 period of input; unvoiced ones +-max(spacing, 10 ms) of output.
      // Synthesis steps follow the analysis spacing (/ pitch ratio when voiced), so with no shift
      // synthesis marks land exactly on analysis marks.
      const double gamma = std::exp2(formant_cur / 12.0);
      const double h_uv = std::max<double>(m.period, unvoiced_step);
      const double h_in = m.voiced ? m.period : h_uv * gamma;
      if (m.pos + h_in + kInterpMargin > static_cast<double>(n_in)) return;  // input not in yet
      const double h_out = m.voiced ? m.period / gamma : h_uv;
      overlap_add(next_s, m.pos, h_out, gamma);

      const double beta = std::exp2(pitch_cur / 12.0);
      const double step = m.voiced ? m.period / beta : m.period;
      next_s += step;
      const double alpha = 1.0 - std::exp(-step / (kGlideSeconds * sr));
      pitch_cur += (pitch_target - pitch_cur) * alpha;
      formant_cur += (formant_target - formant_cur) * alpha;
    }
  }

  void overlap_add(double s, double a, double h_out, double gamma) {
    const int64_t lo = static_cast<int64_t>(std::floor(s - h_out)) + 1;
    const int64_t hi = static_cast<int64_t>(std::ceil(s + h_out)) - 1;
    const double w_scale = kPi / h_out;
    const int64_t emitted_end = n_out - latency;  // slots below this have been output
    for (int64_t n = lo; n <= hi; ++n) {
      if (n < emitted_end) {
        ++late;
        continue;
      }
      const double d = static_cast<double>(n) - s;
      const float w = static_cast<float>(0.5 + 0.5 * std::cos(d * w_scale));
      const double p = a + d * gamma;
      const float v = gamma <= 1.0 ? input_interp(p) : input_lowpass(p, gamma);
      acc[static_cast<size_t>(n & mask)] += w * v;
      wsum[static_cast<size_t>(n & mask)] += w;
    }
  }

  void process_chunk(const float* x, float* y, int n) {
    for (int i = 0; i < n; ++i) {
      in[static_cast<size_t>((n_in + i) & mask)] = std::isfinite(x[i]) ? x[i] : 0.0f;
    }
    n_in += n;
    run_pitch_frames();
    run_analysis_marks();
    run_synthesis_marks();
    for (int i = 0; i < n; ++i) {
      const int64_t t = n_out - latency;
      const size_t slot = static_cast<size_t>(t & mask);
      float v = 0.0f;
      if (t >= 0) v = acc[slot] / std::max(wsum[slot], static_cast<float>(kMinNorm));
      acc[slot] = 0.0f;
      wsum[slot] = 0.0f;
      y[i] = std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
      ++n_out;
    }
  }

  VoiceChangerConfig cfg;
  int decim = 1;  // input samples per pitch-tracker sample
  YinAnalyzer yin;
  int peak_half = 1;
  int sr = 0, hop = 0, hop_d = 0, unvoiced_step = 0, frame_len = 0, half = 0;
  double h_out_max = 0.0;
  int64_t latency = 0, cap = 0, mask = 0, dec_cap = 0, dec_count = 0;
  std::vector<float> in, acc, wsum, frame, raw, smooth, dec, sinc;
  std::vector<Mark> marks;
  int64_t late = 0;
  int64_t n_in = 0, n_out = 0, raw_count = 0, smooth_count = 0, mark_count = 0, cursor = 0;
  double next_a = 0.0, next_s = 0.0;
  double pitch_target = 0.0, pitch_cur = 0.0, formant_target = 0.0, formant_cur = 0.0;
};

VoiceChanger::VoiceChanger(const VoiceChangerConfig& config) {
  config.validate();
  s_ = std::make_unique<State>(config);
}

VoiceChanger::~VoiceChanger() = default;

void VoiceChanger::process(const float* in, float* out, int64_t n) {
  float chunk_in[kChunk];
  for (int64_t i = 0; i < n; i += kChunk) {
    const int c = static_cast<int>(std::min<int64_t>(kChunk, n - i));
    std::copy(in + i, in + i + c, chunk_in);  // in and out may alias
    s_->process_chunk(chunk_in, out + i, c);
  }
}

void VoiceChanger::set_pitch(double semitones) {
  s_->pitch_target = std::isfinite(semitones) ? std::clamp(semitones, -24.0, 24.0) : 0.0;
}
void VoiceChanger::set_formant(double semitones) {
  s_->formant_target = std::isfinite(semitones) ? std::clamp(semitones, -12.0, 12.0) : 0.0;
}
double VoiceChanger::pitch() const { return s_->pitch_target; }
double VoiceChanger::formant() const { return s_->formant_target; }
int64_t VoiceChanger::latency() const { return s_->latency; }
int VoiceChanger::sample_rate() const { return s_->sr; }
int64_t VoiceChanger::late_samples() const { return s_->late; }
void VoiceChanger::reset() { s_->reset(); }

std::vector<float> change_voice(const std::vector<float>& x, int sample_rate,
                                const VoiceParams& params) {
  VoiceChangerConfig cfg;
  cfg.sample_rate = sample_rate;
  cfg.params = params;
  VoiceChanger vc(cfg);
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t lat = vc.latency();
  std::vector<float> padded(static_cast<size_t>(n + lat), 0.0f);
  std::copy(x.begin(), x.end(), padded.begin());
  vc.process(padded.data(), padded.data(), n + lat);
  return std::vector<float>(padded.begin() + lat, padded.end());
}

}  // namespace rvc::dsp
