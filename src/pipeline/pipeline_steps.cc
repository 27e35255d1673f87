// The pure signal steps of upstream Pipeline.pipeline: numpy reflect padding, the split search,
// vc_single's input normalisation and the final int16 scaling.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "rvc/core/error.h"
#include "rvc/dsp/resample.h"
#include "rvc/pipeline/pipeline.h"

namespace rvc::pipeline {

namespace {
constexpr int64_t kWindow = 160;  // Pipeline.window: samples per 10 ms frame at 16 kHz
constexpr int64_t kSr = 16000;    // Pipeline.sr
}  // namespace

// ref: numpy/lib/arraypad.py _set_reflect_both (mode="reflect", reflect_type="even"): a pad
// longer than n-1 is filled by reflecting the already padded array again, chunk by chunk.
std::vector<double> reflect_pad(const std::vector<double>& x, int64_t pad) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (pad < 0) fail("reflect_pad: negative pad ", pad);
  if (pad == 0) return x;
  if (n < 2) fail("reflect_pad: needs at least 2 samples to reflect, got ", n);
  const int64_t total = n + 2 * pad;
  std::vector<double> b(static_cast<size_t>(total));
  std::copy(x.begin(), x.end(), b.begin() + pad);
  int64_t lp = pad, rp = pad;
  while (lp > 0 || rp > 0) {
    const int64_t old_len = total - lp - rp - 1;  // edge sample excluded
    if (lp > 0) {
      const int64_t c = std::min(old_len, lp);
      for (int64_t j = 0; j < c; ++j) b[lp - 1 - j] = b[lp + 1 + j];
      lp -= c;
    }
    if (rp > 0) {
      const int64_t c = std::min(old_len, rp);
      const int64_t at = total - rp;
      for (int64_t j = 0; j < c; ++j) b[at + j] = b[at - 2 - j];
      rp -= c;
    }
  }
  return b;
}

// ref: infer/modules/vc/pipeline.py Pipeline.pipeline (audio_sum / opt_ts and the chunk loop).
ChunkPlan plan_chunks(const std::vector<double>& filtered, const ChunkConfig& cfg) {
  cfg.validate();
  const int64_t n = static_cast<int64_t>(filtered.size());
  const int64_t t_pad = kSr * cfg.x_pad, t_pad2 = 2 * t_pad;
  const int64_t t_query = kSr * cfg.x_query, t_center = kSr * cfg.x_center;
  const int64_t t_max = kSr * cfg.x_max;
  ChunkPlan plan;
  if (n + kWindow > t_max) {
    const std::vector<double> pad = reflect_pad(filtered, kWindow / 2);
    // audio_sum is only read within +-t_query of each cut, so only those stretches are summed
    // (a third of the input at upstream's CPU values). Each element is summed in upstream's
    // order (window offset outer), so values and ties are identical to the full array.
    std::vector<double> sum(static_cast<size_t>(2 * t_query));
    for (int64_t t = t_center; t < n; t += t_center) {
      const int64_t lo = t - t_query, hi = std::min(t + t_query, n);
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t i = 0; i < kWindow; ++i) {
        const double* p = pad.data() + i + lo;
        for (int64_t j = 0; j < hi - lo; ++j) sum[static_cast<size_t>(j)] += std::abs(p[j]);
      }
      const int64_t at = std::min_element(sum.begin(), sum.begin() + (hi - lo)) - sum.begin();
      plan.cuts.push_back((lo + at) / kWindow * kWindow);  // first minimum
    }
  }
  const int64_t total = n + t_pad2;
  int64_t s = 0;
  for (const int64_t t : plan.cuts) {
    plan.starts.push_back(s);
    plan.lengths.push_back(std::min(t + t_pad2 + kWindow, total) - s);
    s = t;
  }
  plan.starts.push_back(s);
  plan.lengths.push_back(total - s);
  return plan;
}

// ref: infer/modules/vc/modules.py VC.vc_single (audio_max = max|audio| / 0.95).
void normalize_input(std::vector<float>& audio) {
  float peak = 0.0f;
  for (float& v : audio) {
    if (!std::isfinite(v)) v = 0.0f;
    peak = std::max(peak, std::abs(v));
  }
  const double audio_max = static_cast<double>(peak) / 0.95;  // numpy: float64 scalar
  if (audio_max > 1.0) {
    const float d = static_cast<float>(audio_max);  // cast to the array's float32 for /=
    for (float& v : audio) v /= d;
  }
}

// ref: infer/modules/vc/pipeline.py Pipeline.pipeline (f0_file -> inp_f0).
std::vector<std::pair<double, double>> read_f0_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open F0 file");
  std::vector<std::pair<double, double>> rows;
  std::string line;
  for (int64_t no = 1; std::getline(in, line); ++no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (rows.size() >= 10'000'000) fail(path, ": more than 10M F0 rows");
    double v[2];
    const char* p = line.c_str();
    for (int k = 0; k < 2; ++k) {
      char* end = nullptr;
      v[k] = std::strtod(p, &end);
      if (end == p || (k == 0 && *end != ',') || (k == 1 && *end != ',' && *end != '\0')) {
        fail(path, ":", no, ": expected 'seconds,Hz', got '", line.substr(0, 60), "'");
      }
      p = end + 1;
    }
    rows.emplace_back(v[0], v[1]);
  }
  return rows;
}

std::vector<float> to_16k(const std::vector<float>& mono, int sample_rate_hz) {
  if (sample_rate_hz <= 0) fail("input: bad sample rate ", sample_rate_hz);
  if (sample_rate_hz == kSr) return mono;
  return dsp::resample(mono, sample_rate_hz, static_cast<int>(kSr));
}

// ref: infer/modules/vc/pipeline.py Pipeline.pipeline (audio_max, max_int16, astype(np.int16)).
std::vector<int16_t> to_int16(const std::vector<float>& audio) {
  float peak = 0.0f;
  for (const float v : audio) {
    if (std::isfinite(v)) peak = std::max(peak, std::abs(v));
  }
  const double audio_max = static_cast<double>(peak) / 0.99;
  double max_int16 = 32768.0;
  if (audio_max > 1.0) max_int16 /= audio_max;
  const float scale = static_cast<float>(max_int16);  // float32 array * float64 scalar -> f32
  std::vector<int16_t> out(audio.size());
  for (size_t i = 0; i < audio.size(); ++i) {
    const float v = std::isfinite(audio[i]) ? audio[i] * scale : 0.0f;
    // Truncation toward zero as astype; the clamp only matters for a peak rounding up to 32768.
    out[i] = static_cast<int16_t>(std::clamp(v, -32768.0f, 32767.0f));
  }
  return out;
}

}  // namespace rvc::pipeline
