// Validation and printing of the conversion parameters.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "rvc/core/error.h"
#include "rvc/pipeline/pipeline.h"

namespace rvc::pipeline {

void ChunkConfig::validate() const {
  // x_pad >= 1: upstream trims chunk outputs with [t_pad_tgt:-t_pad_tgt], empty when 0.
  if (x_pad < 1 || x_pad > 10) fail("x_pad: expected 1..10 seconds, got ", x_pad);
  if (x_query < 1 || x_query > 60) fail("x_query: expected 1..60 seconds, got ", x_query);
  // Cut search windows [t - t_query, t + t_query) must not overlap, or cuts could go backwards.
  if (x_center < 2 * x_query || x_center > 600) {
    fail("x_center: expected 2*x_query (", 2 * x_query, ") .. 600 seconds, got ", x_center);
  }
  if (x_max < x_center || x_max > 3600) {
    fail("x_max: expected x_center (", x_center, ") .. 3600 seconds, got ", x_max);
  }
}

const char* f0_method_name(F0Method m) {
  switch (m) {
    case F0Method::kRmvpe:
      return "rmvpe";
    case F0Method::kYin:
      return "yin";
    case F0Method::kCurve:
      return "curve";
  }
  return "?";
}

F0Method parse_f0_method(const std::string& s) {
  if (s == "rmvpe") return F0Method::kRmvpe;
  if (s == "yin") return F0Method::kYin;
  if (s == "curve") return F0Method::kCurve;
  fail("f0 method: expected rmvpe, yin or curve, got '", s, "'");
}

void RmvpeWindow::validate() const {
  if (!(whole_max_s >= 0 && whole_max_s <= 86400)) {
    fail("rmvpe_window.whole_max_s: expected 0..86400 s, got ", whole_max_s);
  }
  if (!(core_s >= 1 && core_s <= 3600))
    fail("rmvpe_window.core_s: expected 1..3600 s, got ", core_s);
  if (!(context_s >= 0.1 && context_s <= 600)) {
    fail("rmvpe_window.context_s: expected 0.1..600 s, got ", context_s);
  }
}

void ConvertParams::validate() const {
  if (sid < 0) fail("sid: expected a speaker id >= 0, got ", sid);
  if (!std::isfinite(f0_up_key) || std::abs(f0_up_key) > 48) {
    fail("f0_up_key: expected -48..48 semitones, got ", f0_up_key);
  }
  if (!(rmvpe_threshold >= 0.0f && rmvpe_threshold < 1.0f)) {
    fail("rmvpe_threshold: expected 0 <= threshold < 1, got ", rmvpe_threshold);
  }
  if (f0_method == F0Method::kCurve && f0_curve.empty()) {
    fail("f0_curve: f0 method 'curve' needs a non-empty F0 curve");
  }
  for (size_t i = 0; i < f0_curve.size(); ++i) {
    if (!std::isfinite(f0_curve[i]) || f0_curve[i] < 0) {
      fail("f0_curve[", i, "]: expected a finite F0 >= 0 Hz, got ", f0_curve[i]);
    }
  }
  for (size_t i = 0; i < f0_overrides.size(); ++i) {
    const auto& [t, hz] = f0_overrides[i];
    if (!std::isfinite(t) || t < 0 || t > 86400) {
      fail("f0 override row ", i + 1, ": time ", t, " s is not in 0..86400");
    }
    if (!std::isfinite(hz) || hz < 0 || hz > 20000) {
      fail("f0 override row ", i + 1, ": ", hz, " Hz is not in 0..20000");
    }
    if (i > 0 && !(t > f0_overrides[i - 1].first)) {
      fail("f0 override row ", i + 1, ": times must increase (", f0_overrides[i - 1].first,
           " then ", t, ")");
    }
  }
  if (f0_method == F0Method::kYin) {
    yin.validate();
    if (yin.sample_rate != 16000) {
      fail("yin.sample_rate: the pipeline analyses 16000 Hz audio, got ", yin.sample_rate);
    }
    if (yin.hop_samples() != 160) fail("yin.hop: the pipeline needs 160, got ", yin.hop);
  }
  if (filter_radius < 0 || filter_radius > 64) {
    fail("filter_radius: expected 0..64, got ", filter_radius);
  }
  if (!(index_rate >= 0.0f && index_rate <= 1.0f)) {
    fail("index_rate: expected 0..1, got ", index_rate);
  }
  if (!(protect >= 0.0f && protect <= 0.5f)) fail("protect: expected 0..0.5, got ", protect);
  if (!(rms_mix_rate >= 0.0 && rms_mix_rate <= 1.0)) {
    fail("rms_mix_rate: expected 0..1, got ", rms_mix_rate);
  }
  if (resample_sr != 0 && (resample_sr < 16000 || resample_sr > 384000)) {
    fail("resample_sr: expected 0 (keep the model rate) or 16000..384000 Hz, got ", resample_sr);
  }
  rmvpe_window.validate();
  chunk.validate();
}

std::string ConvertParams::to_string() const {
  std::ostringstream os;
  char key[32];
  std::snprintf(key, sizeof key, "%+g", f0_up_key);
  os << "sid=" << sid << " f0_up_key=" << key << " f0_method=" << f0_method_name(f0_method);
  if (f0_method == F0Method::kRmvpe) os << " rmvpe_threshold=" << rmvpe_threshold;
  if (f0_method == F0Method::kCurve) os << " f0_curve=" << f0_curve.size() << " frames";
  if (f0_method == F0Method::kYin) os << " filter_radius=" << filter_radius;
  if (!f0_overrides.empty()) os << " f0_overrides=" << f0_overrides.size() << " rows";
  os << " index_rate=" << index_rate << " protect=" << protect << " rms_mix_rate=" << rms_mix_rate
     << " resample_sr=" << resample_sr << " normalize_input=" << (normalize_input ? 1 : 0)
     << " noise=" << (noise ? 1 : 0) << " seed=" << seed << " x_pad=" << chunk.x_pad
     << " x_query=" << chunk.x_query << " x_center=" << chunk.x_center << " x_max=" << chunk.x_max;
  return os.str();
}

}  // namespace rvc::pipeline
