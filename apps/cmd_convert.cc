// rvc-rt convert: files in, files out.
//
//   rvc-rt convert IN... -o OUT [--model NAME|FILE] [--pitch N] [--format wav|flac] [...]
//
// IN may be files or directories (walked recursively; relative paths are kept under OUT). With
// one input file OUT may be a file path, otherwise it is a directory (created as needed). An
// output never overwrites an input. A failing file prints "rvc-rt: error: <path>: <reason>" and
// the batch goes on; exit status 0 = all converted, 1 = some failed, 2 = nothing converted (or a
// setting / model error before any file).
//
// Settings come from flags, RVC_* variables and a config file through rvc::Settings (the voice
// keys shared with stream/serve are in apps/settings.h); --print-config prints the effective
// settings and exits. Without --model the built-in DSP voice (rvc/dsp/voice_changer.h) converts;
// with one, the RVC pipeline (rvc/pipeline/pipeline.h) with models loaded once for the batch.
// --formant belongs to the built-in voice only: upstream's offline RVC has no formant control.
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
#include "rvc/core/settings.h"
#include "rvc/dsp/voice_changer.h"
#include "rvc/formats/audio_file.h"
#include "rvc/pipeline/pipeline.h"
#include "settings.h"

namespace rvc::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ConvertOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string format = "wav";  // "wav" | "flac"; "" (not given) = from -o's extension, else wav
  double formant = 0.0;
  bool quiet = false;
  bool print_config = false;
  VoiceOptions voice;
};

// Returns false when --help was printed or --print-config printed the settings.
bool parse_convert_options(const std::vector<std::string>& args, ConvertOptions* o) {
  Settings s("convert", "IN... -o OUT");
  s.add("output", "OUT", "output file (one input file) or directory", &o->output)
      .alias("-o")
      .cli_only();
  s.add("format", "FMT", "output format for generated names: wav (default) or flac", &o->format)
      .choices({"wav", "flac"});
  add_voice_settings(s, &o->voice);
  s.add("formant", "N", "formant shift in semitones, -12..12 (built-in voice only; default 0)",
        &o->formant)
      .range(-12, 12);
  s.add_flag("quiet", "no progress bar and no per-file summary lines", &o->quiet);
  s.add_flag("print-config", "print the effective settings and exit", &o->print_config).cli_only();
  if (!s.load(args)) {
    std::fputs(s.usage().c_str(), stdout);
    return false;
  }
  if (!s.given("format")) o->format.clear();
  if (o->print_config) {
    std::fputs(s.effective_config().c_str(), stdout);
    return false;
  }
  o->inputs = s.positional();
  if (o->inputs.empty()) fail("convert: expected at least one input (see rvc-rt convert --help)");
  if (o->output.empty()) fail("convert: -o OUT is required");
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

// The RVC pipeline on one shared, immutable set of models.
class RvcConverter : public Converter {
 public:
  RvcConverter(std::shared_ptr<const pipeline::VoiceModels> models, pipeline::ConvertParams params)
      : pipeline_(std::move(models)), params_(std::move(params)) {}
  std::string describe() const override {
    return "using " + pipeline_.models().describe() + "; " + params_.to_string();
  }
  formats::Audio convert(const formats::Audio& in,
                         const std::function<void(double)>& progress) override {
    const std::vector<float> x16 = pipeline::to_16k(in.samples, in.sample_rate);
    pipeline::ConvertHooks hooks;
    hooks.progress = progress;
    const pipeline::ConvertResult r = pipeline_.convert(x16, params_, hooks);
    // Upstream's int16 result (peak-limited to 0.99), as the file will hold it.
    formats::Audio out;
    out.sample_rate = r.sample_rate_hz;
    out.samples.resize(r.pcm16.size());
    for (size_t i = 0; i < r.pcm16.size(); ++i) out.samples[i] = r.pcm16[i] / 32768.0f;
    return out;
  }

 private:
  pipeline::Pipeline pipeline_;
  pipeline::ConvertParams params_;
};

std::unique_ptr<Converter> make_converter(const ConvertOptions& o) {
  if (o.voice.model.empty()) {
    if (std::abs(o.voice.pitch) > 24) {
      fail("--pitch: the built-in voice takes -24..24 semitones, got ", o.voice.pitch);
    }
    return std::make_unique<BuiltinVoiceConverter>(dsp::VoiceParams{o.voice.pitch, o.formant});
  }
  if (o.formant != 0.0) {
    fail(
        "--formant: only the built-in voice has a formant shift; upstream RVC's offline "
        "conversion has none (drop --formant or --model)");
  }
  pipeline::ConvertParams params = voice_params(o.voice);
  auto models = load_voice(o.voice);
  if (params.sid >= models->synthesizer().speakers()) {
    fail("--speaker: ", params.sid, " is out of range: ", models->paths().voice, " has ",
         models->synthesizer().speakers(), " speaker(s)");
  }
  return std::make_unique<RvcConverter>(std::move(models), std::move(params));
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
