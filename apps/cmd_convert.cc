// rvc-rt convert: files in, files out.
//
//   rvc-rt convert IN... -o OUT [--pitch N] [--formant N] [--format wav|flac] [--model M]
//
// IN may be files or directories (walked recursively; relative paths are kept under OUT). With
// one input file OUT may be a file path, otherwise it is a directory (created as needed). An
// output never overwrites an input. A failing file prints "rvc-rt: error: <path>: <reason>" and
// the batch goes on; exit status 0 = all converted, 1 = some failed, 2 = nothing converted.
//
// The conversion itself sits behind the Converter interface: today the built-in DSP voice
// (rvc/dsp/voice_changer.h); the RVC model pipeline plugs in as a second implementation chosen in
// make_converter(). All flags are parsed in parse_convert_options(); the RVC flags (--index,
// --hubert, --rmvpe, --f0-method, --index-rate, --protect, --rms-mix, --filter-radius,
// --resample-sr, --speaker) go there and into ConvertOptions.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/dsp/voice_changer.h"
#include "rvc/formats/audio_file.h"

namespace rvc::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ConvertOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string format;  // "wav" | "flac"; empty = from -o's extension, else wav
  double pitch = 0.0;
  double formant = 0.0;
  std::string model;  // RVC .pth; empty = built-in voice
  bool quiet = false;
};

// Returns false when --help was printed.
bool parse_convert_options(const std::vector<std::string>& args, ConvertOptions* o) {
  ArgParser p("convert", "IN... -o OUT");
  p.option("-o", "OUT", "output file (one input file) or directory", &o->output);
  p.option("--output", "OUT", "same as -o", &o->output);
  p.option("--pitch", "N", "pitch shift in semitones, -24..24 (default 0)", &o->pitch);
  p.option("--formant", "N", "formant shift in semitones, -12..12 (built-in voice; default 0)",
           &o->formant);
  p.option("--format", "FMT", "output format for generated names: wav (default) or flac",
           &o->format);
  p.option("--model", "FILE", "RVC voice model (.pth); without it the built-in DSP voice is used",
           &o->model);
  p.flag("--quiet", "no progress bar and no per-file summary lines", &o->quiet);
  if (!p.parse(args)) return false;
  o->inputs = p.positional();
  if (o->inputs.empty()) fail("convert: expected at least one input (see rvc-rt convert --help)");
  if (o->output.empty()) fail("convert: -o OUT is required");
  if (!o->format.empty() && o->format != "wav" && o->format != "flac") {
    fail("--format: expected wav or flac, got '", o->format, "'");
  }
  if (!std::isfinite(o->pitch) || std::abs(o->pitch) > 24) {
    fail("--pitch: expected -24..24 semitones, got ", o->pitch);
  }
  if (!std::isfinite(o->formant) || std::abs(o->formant) > 12) {
    fail("--formant: expected -12..12 semitones, got ", o->formant);
  }
  return true;
}

// One way of turning input audio into output audio. Implementations may keep state between
// files (loaded models) but each convert() call is independent.
class Converter {
 public:
  virtual ~Converter() = default;
  // Human description for the one-time "using ..." line.
  virtual std::string describe() const = 0;
  // progress(fraction in [0,1]) may be called as work proceeds.
  virtual formats::Audio convert(const formats::Audio& in,
                                 const std::function<void(double)>& progress) = 0;
};

class BuiltinVoiceConverter : public Converter {
 public:
  explicit BuiltinVoiceConverter(const dsp::VoiceParams& params) : params_(params) {
    params_.validate();
  }
  std::string describe() const override {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "no --model given: using the built-in DSP voice (pitch %+.2f, formant %+.2f "
                  "semitones)",
                  params_.pitch_semitones, params_.formant_semitones);
    return buf;
  }
  formats::Audio convert(const formats::Audio& in,
                         const std::function<void(double)>& progress) override {
    dsp::VoiceChangerConfig cfg;
    cfg.sample_rate = in.sample_rate;
    cfg.params = params_;
    dsp::VoiceChanger vc(cfg);  // validates the rate
    const int64_t n = static_cast<int64_t>(in.samples.size());
    const int64_t lat = vc.latency();
    std::vector<float> buf(in.samples);
    buf.resize(static_cast<size_t>(n + lat), 0.0f);  // flush the latency with silence
    const int64_t block = std::max<int64_t>(in.sample_rate, 4096);
    for (int64_t i = 0; i < n + lat; i += block) {
      vc.process(buf.data() + i, buf.data() + i, std::min(block, n + lat - i));
      progress(static_cast<double>(i) / static_cast<double>(n + lat));
    }
    formats::Audio out;
    out.sample_rate = in.sample_rate;
    out.samples.assign(buf.begin() + lat, buf.end());
    return out;
  }

 private:
  dsp::VoiceParams params_;
};

std::unique_ptr<Converter> make_converter(const ConvertOptions& o) {
  if (!o.model.empty()) fail(o.model, ": RVC voice models are not supported by convert yet");
  return std::make_unique<BuiltinVoiceConverter>(dsp::VoiceParams{o.pitch, o.formant});
}

struct Job {
  std::string input, output;
  std::string error;      // set when planning already failed
  double seconds = -1.0;  // from the header; < 0 unknown
};

bool is_audio_extension(const fs::path& p) {
  static const std::set<std::string> kExt = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3",
                                             ".aif", ".aiff", ".au",  ".caf", ".w64",  ".rf64"};
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return kExt.count(e) > 0;
}

fs::path canonical_or_self(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : c;
}

// Expands inputs into jobs with their output paths. Planning errors become failed jobs.
std::vector<Job> plan_jobs(const ConvertOptions& o) {
  std::vector<Job> jobs;
  std::error_code ec;
  const fs::path out(o.output);
  const bool out_is_dir = fs::is_directory(out, ec) || o.output.back() == '/';
  const bool single_file =
      o.inputs.size() == 1 && fs::is_regular_file(o.inputs[0], ec) && !out_is_dir;
  std::string ext = "." + (o.format.empty() ? std::string("wav") : o.format);
  if (single_file) {
    std::string oe = out.extension().string();
    std::transform(oe.begin(), oe.end(), oe.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (oe != ".wav" && oe != ".flac") {
      fail("-o ", o.output,
           ": a single input converts to a .wav or .flac file (or give a "
           "directory ending in '/')");
    }
    if (!o.format.empty() && oe != ext)
      fail("-o ", o.output, " conflicts with --format ", o.format);
    jobs.push_back({o.inputs[0], o.output, "", -1.0});
  } else {
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
      fail("-o ", o.output, ": is a file, but the inputs need an output directory");
    }
    for (const std::string& in : o.inputs) {
      const fs::path ip(in);
      if (fs::is_directory(ip, ec)) {
        std::vector<fs::path> files;
        const fs::path out_canon = canonical_or_self(out);
        for (auto it = fs::recursive_directory_iterator(
                 ip, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
          // OUT inside IN: earlier outputs are not inputs.
          if (it->is_directory(ec) && canonical_or_self(it->path()) == out_canon) {
            it.disable_recursion_pending();
          } else if (it->is_regular_file(ec) && is_audio_extension(it->path())) {
            files.push_back(it->path());
          }
        }
        if (ec) jobs.push_back({in, "", "cannot list directory: " + ec.message(), -1.0});
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
          fs::path rel = f.lexically_relative(ip);
          jobs.push_back({f.string(), (out / rel).replace_extension(ext).string(), "", -1.0});
        }
      } else if (fs::exists(ip, ec)) {
        jobs.push_back({in, (out / ip.filename()).replace_extension(ext).string(), "", -1.0});
      } else {
        jobs.push_back({in, "", "no such file or directory", -1.0});
      }
    }
  }
  // No output may overwrite any input, and no two jobs may write the same file.
  std::set<fs::path> inputs;
  for (const auto& j : jobs) inputs.insert(canonical_or_self(j.input));
  std::map<fs::path, std::string> claimed;
  for (auto& j : jobs) {
    if (!j.error.empty()) continue;
    const fs::path c = canonical_or_self(j.output);
    if (inputs.count(c)) {
      j.error = "refusing to overwrite an input file with the output " + j.output;
    } else if (auto [it, fresh] = claimed.emplace(c, j.input); !fresh) {
      j.error = "output " + j.output + " would also be written from " + it->second;
    }
  }
  return jobs;
}

// One-line progress bar on a terminal, nothing otherwise.
class Progress {
 public:
  Progress(bool enabled, double total_seconds, size_t n_files)
      : enabled_(enabled), total_(total_seconds), n_files_(n_files), start_(Clock::now()) {}
  // done: seconds of audio (or files, when durations are unknown) finished so far.
  void draw(double done, size_t file_index) {
    if (!enabled_ || total_ <= 0) return;
    const double frac = std::clamp(done / total_, 0.0, 1.0);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    char eta[32] = "--:--";
    if (frac > 0.01) {
      const int s = static_cast<int>(std::lround(elapsed / frac * (1 - frac)));
      std::snprintf(eta, sizeof eta, "%d:%02d", s / 60, s % 60);
    }
    const int width = 30, fill = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(fill), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r[%s] %3d%%  file %zu/%zu  ETA %s\x1b[K", bar.c_str(),
                 static_cast<int>(frac * 100), file_index + 1, n_files_, eta);
    std::fflush(stderr);
  }
  void clear() {
    if (enabled_) std::fprintf(stderr, "\r\x1b[K");
  }

 private:
  bool enabled_;
  double total_;
  size_t n_files_;
  Clock::time_point start_;
};

std::string error_line(const std::string& path, const std::string& reason) {
  // Errors from the formats layer already start with the path.
  if (reason.rfind(path + ":", 0) == 0) return "rvc-rt: error: " + reason;
  return "rvc-rt: error: " + path + ": " + reason;
}

int run_convert(const std::vector<std::string>& args) {
  ConvertOptions o;
  if (!parse_convert_options(args, &o)) return 0;
  std::unique_ptr<Converter> converter;
  try {
    converter = make_converter(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "rvc-rt: error: %s\n", e.what());
    return 2;
  }
  std::vector<Job> jobs = plan_jobs(o);
  if (jobs.empty()) fail("convert: no audio files found in the inputs");
  std::fprintf(stderr, "rvc-rt: %s\n", converter->describe().c_str());

  // Durations from headers weight the progress bar; unknown ones count as the mean.
  const bool tty = !o.quiet && isatty(fileno(stderr));
  double total = 0.0;
  size_t known = 0;
  for (auto& j : jobs) {
    if (!j.error.empty() || !tty) continue;
    try {
      const auto info = formats::probe_audio(j.input);
      j.seconds = static_cast<double>(info.frames) / info.sample_rate;
      total += j.seconds;
      ++known;
    } catch (const Error&) {
    }
  }
  const double mean = known ? total / static_cast<double>(known) : 1.0;
  for (auto& j : jobs) {
    if (j.seconds < 0) total += (j.seconds = mean);
  }
  Progress bar(tty, total, jobs.size());

  int ok = 0, failed = 0;
  double done = 0.0, audio_total = 0.0, compute_total = 0.0;
  for (size_t k = 0; k < jobs.size(); ++k) {
    Job& j = jobs[k];
    bar.draw(done, k);
    try {
      if (!j.error.empty()) fail(j.error);
      const auto t0 = Clock::now();
      const formats::Audio in = formats::read_audio_mono(j.input);
      const formats::Audio out =
          converter->convert(in, [&](double f) { bar.draw(done + f * j.seconds, k); });
      const fs::path parent = fs::path(j.output).parent_path();
      std::error_code ec;
      if (!parent.empty()) fs::create_directories(parent, ec);
      if (ec) fail("cannot create directory ", parent.string(), ": ", ec.message());
      // Written under a temporary name and renamed: an interrupted run leaves no half file
      // under the final name.
      const fs::path final_path(j.output);
      const fs::path tmp = final_path.parent_path() / ("." + final_path.stem().string() + ".part" +
                                                       final_path.extension().string());
      try {
        formats::write_audio(tmp.string(), out.samples.data(),
                             static_cast<int64_t>(out.samples.size()), out.sample_rate);
      } catch (const Error& e) {
        fs::remove(tmp, ec);
        fail(j.output, ": ", e.what());
      }
      fs::rename(tmp, final_path, ec);
      if (ec) {
        fs::remove(tmp, ec);
        fail(j.output, ": cannot move the finished file into place");
      }
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      const double dur = static_cast<double>(in.samples.size()) / in.sample_rate;
      audio_total += dur;
      compute_total += secs;
      ++ok;
      bar.clear();
      if (!o.quiet) {
        std::printf("%s -> %s: %.2f s of audio in %.2f s (%.1fx real time)\n", j.input.c_str(),
                    j.output.c_str(), dur, secs, secs > 0 ? dur / secs : 0.0);
        std::fflush(stdout);
      }
    } catch (const std::exception& e) {  // rvc::Error, and also bad_alloc or filesystem errors
      bar.clear();
      std::fprintf(stderr, "%s\n", error_line(j.input, e.what()).c_str());
      ++failed;
    }
    done += j.seconds;
  }
  bar.clear();
  if (!o.quiet && jobs.size() > 1) {
    std::printf("converted %d of %zu files: %.2f s of audio in %.2f s (%.1fx real time)\n", ok,
                jobs.size(), audio_total, compute_total,
                compute_total > 0 ? audio_total / compute_total : 0.0);
  }
  if (ok == 0) return 2;
  return failed ? 1 : 0;
}

const RegisterCommand kRegister("convert",
                                "convert audio files or directories (built-in voice or RVC model)",
                                run_convert);

}  // namespace
}  // namespace rvc::app
