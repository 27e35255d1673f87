// StreamParams / StreamConfig: validation, derived sizes and the printable form.
#include <cmath>
#include <sstream>

#include "rvc/core/error.h"
#include "rvc/pipeline/stream.h"

namespace rvc::pipeline {
namespace {

void check_range(const char* name, double v, double lo, double hi) {
  if (!std::isfinite(v) || v < lo || v > hi) fail(name, ": expected ", lo, "..", hi, ", got ", v);
}

int64_t round_frames(double ms, int sr) { return std::llround(ms * sr / 1000.0); }

}  // namespace

void StreamParams::validate() const {
  check_range("pitch", pitch_semitones, -24, 24);
  check_range("formant", formant_semitones, -12, 12);
  check_range("index_rate", index_rate, 0, 1);
  check_range("rms_mix", rms_mix, 0, 1);
  check_range("threshold_db", threshold_db, -200, 0);
  check_range("input_gain_db", input_gain_db, -60, 30);
  check_range("output_gain_db", output_gain_db, -60, 30);
  if (!dsp::valid_noise_level(noise_suppression)) {
    fail("noise_suppression: expected off, low, moderate, high or very_high, got level ",
         static_cast<int>(noise_suppression));
  }
}

void StreamConfig::validate() const {
  if (sample_rate < 8000 || sample_rate > 192000) {
    fail("sample_rate: expected 8000..192000 Hz, got ", sample_rate);
  }
  check_range("block_ms", block_ms, 10, 5000);
  check_range("extra_ms", extra_ms, 0, 10000);
  check_range("crossfade_ms", crossfade_ms, 0, 1000);
  check_range("sola_search_ms", sola_search_ms, 0, 100);
  if (f0_method != "rmvpe" && f0_method != "yin") {
    fail("f0_method: expected rmvpe or yin, got '", f0_method, "'");
  }
  params.validate();
}

int64_t StreamConfig::zc() const { return sample_rate / 100; }

// ref: gui_v1.py, start_vc: block_frame = round(block_time * sr / zc) * zc
int64_t StreamConfig::block_frames() const {
  const int64_t z = zc();
  return std::max<int64_t>(1, std::llround(block_ms * sample_rate / 1000.0 / z)) * z;
}
int64_t StreamConfig::extra_frames() const {
  const int64_t z = zc();
  return std::llround(extra_ms * sample_rate / 1000.0 / z) * z;
}
int64_t StreamConfig::crossfade_frames() const { return round_frames(crossfade_ms, sample_rate); }
int64_t StreamConfig::sola_search_frames() const {
  return round_frames(sola_search_ms, sample_rate);
}

std::string StreamConfig::to_string() const {
  std::ostringstream os;
  os << "sample_rate = " << sample_rate << " Hz\n"
     << "block_ms = " << block_ms << " (" << block_frames() << " samples)\n"
     << "extra_ms = " << extra_ms << "\n"
     << "crossfade_ms = " << crossfade_ms << "\n"
     << "sola_search_ms = " << sola_search_ms << "\n"
     << "f0_method = " << f0_method << "\n"
     << "pipeline = " << (pipeline ? "on" : "off") << "\n"
     << "pitch = " << params.pitch_semitones << " semitones\n"
     << "formant = " << params.formant_semitones << " semitones\n"
     << "index_rate = " << params.index_rate << "\n"
     << "rms_mix = " << params.rms_mix << "\n"
     << "threshold_db = " << params.threshold_db
     << (params.threshold_db <= -60 ? " (gate off)" : "") << "\n"
     << "input_gain_db = " << params.input_gain_db << "\n"
     << "output_gain_db = " << params.output_gain_db << "\n"
     << "noise_suppression = " << dsp::noise_level_name(params.noise_suppression) << "\n";
  return os.str();
}

}  // namespace rvc::pipeline
