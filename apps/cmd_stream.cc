// rvc-rt stream: live voice conversion, device in -> converted voice out.
//
//   rvc-rt stream --input-file IN --output-file OUT [--realtime] [stream options]
//   rvc-rt stream [--input DEV] [--output DEV] [--sample-rate HZ] [--duration S] [options]
//
// Both forms run exactly the live path: the device's callback only moves samples through SPSC
// rings, a worker runs pipeline::Stream (rvc/audio/stream_runner.h). The file device plays IN
// through it (as fast as the worker allows, or paced like a sound card with --realtime) and
// writes what came out to OUT: IN's length plus the latency, so nothing is cut. The effective
// config is printed at start, a live status line on a terminal, and a summary at the end:
// compute time per block, algorithmic latency and, for files, the measured input-to-output
// delay. Exit status 0 = ran, 2 = bad options or device/file errors (one line on stderr), 3 = the
// live device went away mid-stream (one line on stderr after the summary).
// Without --model the built-in DSP voice runs; with --model NAME|FILE.pth the RVC backend
// (HuBERT + F0 + index + synthesizer, joined by SOLA) does.
// Settings come from flags, RVC_* variables and the config file (top level and [stream]) through
// rvc::Settings (docs/configuration.md); --print-config prints them. --input-file/--output-file
// are command-line only. Device keys (input, output, sample-rate) and realtime from the
// environment or a config file are ignored in the other mode; only flags contradicting each
// other are an error.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "rvc/audio/delay.h"
#include "rvc/audio/file_device.h"
#include "rvc/audio/portaudio_device.h"
#include "rvc/audio/realtime.h"
#include "rvc/audio/stream_runner.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/dsp/denoise.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/model_store.h"
#include "rvc/pipeline/stream.h"
#include "rvc/pipeline/voice_models.h"

namespace rvc::app {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

struct StreamOptions {
  std::string input_file, output_file, input_dev, output_dev, timings_file;
  std::string models_dir = "models", model, hubert, rmvpe, index;
  std::string precision = "f32";
  std::string denoise = "off";
  int speaker = 0, threads = 2;
  bool realtime = false, quiet = false, print_config = false;
  int sample_rate = 0, buffer_frames = 0;
  double duration_s = 0.0;
  double headroom_ms = -1.0;  // < 0 = auto from the warm-up
  int rt_priority = 0;        // SCHED_FIFO for the worker (audio thread one above); 0 = off
  pipeline::StreamConfig config;
};

// Registers stream's keys on s, filling o (defaults: the fields' initial values).
void add_stream_settings(Settings& s, StreamOptions* o) {
  pipeline::StreamConfig& c = o->config;
  pipeline::StreamParams& p = c.params;
  s.add("input-file", "IN", "play this audio file into the stream (file device)", &o->input_file)
      .cli_only();
  s.add("output-file", "OUT", "write the stream's output here (.wav or .flac)", &o->output_file)
      .cli_only();
  s.add("timings-file", "CSV",
        "write each block's start (s) and compute time (ms) here at the end (a live run: its "
        "first hour)",
        &o->timings_file)
      .cli_only();
  s.add_flag("realtime",
             "file device: pace periods like a sound card (default: as fast as possible)",
             &o->realtime);
  s.add("input", "DEV", "live input device: index, name or 'default' (rvc-rt devices)",
        &o->input_dev);
  s.add("output", "DEV", "live output device: index, name or 'default' (default: default)",
        &o->output_dev);
  s.add("sample-rate", "HZ", "live device rate (default 0 = the input device's)", &o->sample_rate)
      .range(0, 384000);
  s.add("buffer-frames", "N", "device period in frames (default 0 = 10 ms)", &o->buffer_frames)
      .range(0, 1 << 20);
  s.add("duration", "S", "live: stop after S seconds (default 0 = until Ctrl-C)", &o->duration_s)
      .range(0, 1e9);
  s.add("headroom-ms", "N",
        "output buffering for compute time (default -1 = auto: 2x the warm-up block time + 2 ms, "
        "10 ms at least, one block at most)",
        &o->headroom_ms)
      .range(-1, 10000);
  s.add("rt-priority", "N",
        "run the worker and its compute threads under SCHED_FIFO at N and the audio callback "
        "thread at N + 1, 1..97 (needs root, CAP_SYS_NICE or ulimit -r N; default 0 = off)",
        &o->rt_priority)
      .range(0, audio::kMaxRtPriority - 1);
  s.add("block-ms", "N", "block length, whole 10 ms units, 10..5000 (default 100)", &c.block_ms)
      .range(10, 5000);
  s.add("extra-ms", "N", "left context re-read each block (RVC models; default 500)", &c.extra_ms)
      .range(0, 10000);
  s.add("crossfade-ms", "N", "SOLA crossfade (RVC models; default 40)", &c.crossfade_ms)
      .range(0, 1000);
  s.add("sola-search-ms", "N", "SOLA search window (RVC models; default 10)", &c.sola_search_ms)
      .range(0, 100);
  s.add("pitch", "N", "pitch shift in semitones, -24..24 (default 0)", &p.pitch_semitones)
      .range(-24, 24);
  s.add("formant", "N", "formant shift in semitones, -12..12 (default 0)", &p.formant_semitones)
      .range(-12, 12);
  s.add("threshold-db", "N", "silence gate on input RMS in dB; <= -60 = off (default -60)",
        &p.threshold_db)
      .range(-200, 0);
  s.add("input-gain-db", "N", "input gain in dB, -60..30 (default 0)", &p.input_gain_db)
      .range(-60, 30);
  s.add("output-gain-db", "N", "output gain in dB, -60..30 (default 0)", &p.output_gain_db)
      .range(-60, 30);
  s.add("denoise", "LEVEL",
        "input noise suppression: off (default), low, moderate, high or very_high", &o->denoise)
      .choices({"off", "low", "moderate", "high", "very_high"});
  s.add("models-dir", "DIR", "where voices (NAME.pth, NAME.index) live (default models)",
        &o->models_dir);
  s.add("model", "M", "RVC voice: NAME in the models dir or a .pth; default: built-in voice",
        &o->model);
  s.add("hubert", "FILE", "hubert_base.pt (default: found under assets/ or the models dir)",
        &o->hubert);
  s.add("rmvpe", "FILE", "rmvpe.pt for --f0-method rmvpe (default: found like --hubert)",
        &o->rmvpe);
  s.add("index", "FILE", "retrieval index (default: the voice's own, if any)", &o->index);
  s.add("f0-method", "M", "RVC pitch tracker: rmvpe (default) or yin", &c.f0_method)
      .choices({"rmvpe", "yin"});
  s.add_flag("pipeline",
             "RVC: a block's features on one thread while the previous block is synthesized on "
             "the other: more blocks per second on 2 cores, one block more latency",
             &c.pipeline);
  s.add("index-rate", "X", "RVC index blend 0..1 (default 0)", &p.index_rate).range(0, 1);
  s.add("rms-mix", "X", "RVC loudness: 0 = follow the input, 1 = the voice's (default 0)",
        &p.rms_mix)
      .range(0, 1);
  s.add("speaker", "N", "RVC speaker id (default 0)", &o->speaker).range(0, 1 << 20);
  s.add("threads", "N", "RVC compute threads per block, 1..256 (default 2)", &o->threads)
      .range(1, 256);
  s.add("precision", "P", "RVC networks in f32 (default) or bf16 (needs AVX512-BF16)",
        &o->precision)
      .choices({"f32", "bf16", "float32", "bfloat16"});
  s.add_flag("quiet", "no live status line", &o->quiet);
  s.add_flag("print-config", "print the effective settings and exit", &o->print_config).cli_only();
}

// Returns false when --help or --print-config printed what was asked.
bool parse_stream_options(const std::vector<std::string>& args, StreamOptions* o) {
  Settings s("stream");
  add_stream_settings(s, o);
  if (!s.load(args)) {
    std::fputs(s.usage().c_str(), stdout);
    return false;
  }
  if (o->print_config) {
    std::fputs(s.effective_config().c_str(), stdout);
    return false;
  }
  if (!s.positional().empty()) fail("stream: unexpected argument '", s.positional()[0], "'");
  auto on_command_line = [&s](const char* key) { return s.source(key) == SettingSource::kFlag; };
  o->config.params.noise_suppression = dsp::parse_noise_level(o->denoise, "--denoise");
  const bool file = !o->input_file.empty() || !o->output_file.empty();
  if (file && (o->input_file.empty() || o->output_file.empty())) {
    fail("stream: --input-file and --output-file go together");
  }
  // Device settings and --realtime may sit in the environment or a config file for the other
  // mode; only the command line contradicting itself is an error.
  if (file) {
    if (on_command_line("input") || on_command_line("output") || on_command_line("sample-rate")) {
      fail("stream: use either files (--input-file/--output-file) or devices (--input/--output)");
    }
    o->input_dev.clear();
    o->output_dev.clear();
    o->sample_rate = 0;
  } else if (o->realtime) {
    if (on_command_line("realtime")) fail("--realtime: only for the file device");
    o->realtime = false;
  }
  if (o->model.empty()) {
    if (on_command_line("hubert") || on_command_line("rmvpe") || on_command_line("index")) {
      fail("stream: --hubert/--rmvpe/--index need --model");
    }
  }
  return true;
}

double ms(int64_t frames, int sr) { return static_cast<double>(frames) * 1000.0 / sr; }

void print_status(const audio::StreamRunner& r, int64_t latency, int sr, double block_ms) {
  const audio::RunnerStats s = r.stats();
  std::fprintf(stderr,
               "\rblock %.0f ms | compute p50 %.1f ms p99 %.1f ms | latency %.0f ms | xruns %llu"
               " | underrun %llu | dropped %llu\x1b[K",
               block_ms, s.compute_p50_ms, s.compute_p99_ms, ms(latency, sr),
               static_cast<unsigned long long>(s.device_xruns),
               static_cast<unsigned long long>(s.output_underrun_frames),
               static_cast<unsigned long long>(s.dropped_input_frames));
  std::fflush(stderr);
}

int run_stream(const std::vector<std::string>& args) {
  StreamOptions o;
  if (!parse_stream_options(args, &o)) return 0;
  const bool file = !o.input_file.empty();

  // Opened first: a bad path fails before any model loads.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> timings_out(nullptr, &std::fclose);
  if (!o.timings_file.empty()) {
    timings_out.reset(std::fopen(o.timings_file.c_str(), "w"));
    if (!timings_out) {
      fail("--timings-file ", o.timings_file, ": cannot write (", std::strerror(errno), ")");
    }
  }
  std::unique_ptr<audio::Device> device;
  audio::FileDevice* file_dev = nullptr;
  if (file) {
    audio::FileDeviceConfig fc;
    fc.input_path = o.input_file;
    fc.output_path = o.output_file;
    fc.buffer_frames = o.buffer_frames;
    fc.realtime = o.realtime;
    auto fd = std::make_unique<audio::FileDevice>(fc);
    file_dev = fd.get();
    device = std::move(fd);
  } else {
    audio::PortAudioConfig pc;
    pc.input = o.input_dev.empty() ? "default" : o.input_dev;
    pc.output = o.output_dev.empty() ? "default" : o.output_dev;
    pc.sample_rate = o.sample_rate;
    pc.buffer_frames = o.buffer_frames;
    device = std::make_unique<audio::PortAudioDevice>(pc);
  }
  o.config.sample_rate = device->sample_rate();
  std::unique_ptr<pipeline::VoiceBackend> backend;
  if (o.model.empty()) {
    backend = pipeline::make_builtin_backend();
  } else {
    // Layers pack their weights in the default precision when loaded: set it first.
    nn::set_num_threads(o.threads);
    nn::set_default_precision(
        nn::effective_precision(nn::parse_precision(o.precision.c_str(), "--precision")));
    pipeline::ModelStore::Overrides ov;
    ov.hubert = o.hubert;
    ov.rmvpe = o.rmvpe;
    ov.index = o.index;
    ov.need_rmvpe = o.config.f0_method == "rmvpe";
    const pipeline::ModelStore store(o.models_dir.empty() ? "models" : o.models_dir);
    const auto paths = store.paths_for(o.model, ov);
    const auto models = pipeline::VoiceModels::load(paths);
    if (o.speaker >= models->synthesizer().speakers()) {
      fail("--speaker ", o.speaker, ": the voice has ", models->synthesizer().speakers(),
           " speakers");
    }
    backend = pipeline::make_rvc_backend(models, o.speaker);
  }
  pipeline::Stream stream(o.config, std::move(backend));
  const auto w0 = std::chrono::steady_clock::now();
  stream.warm_up();
  const double warm_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count() /
      2.0;
  const int sr = stream.sample_rate();
  // Auto headroom: twice the warm-up's block compute time + 2 ms, at least kMinAutoHeadroomMs
  // (a fast voice's 2 ms left scheduling stalls of a few ms on a shared VM as underruns: the
  // built-in voice at block 10-20 ms, 0.05 ms of compute), at most one block.
  constexpr double kMinAutoHeadroomMs = 10.0;
  const double headroom_ms =
      o.headroom_ms >= 0 ? o.headroom_ms : std::max(2.0 * warm_ms + 2.0, kMinAutoHeadroomMs);
  const int64_t headroom =
      std::min<int64_t>(std::llround(headroom_ms * sr / 1000.0),
                        o.headroom_ms >= 0 ? 8 * stream.block_frames() : stream.block_frames());
  audio::StreamRunner runner(stream, device->buffer_frames(), headroom);
  runner.set_rt_priority(o.rt_priority);
  const int64_t latency = runner.latency_frames();
  if (file_dev) file_dev->set_drain_frames(latency);
  {
    // Every block of a file (its input plus the drained latency, already in memory as samples);
    // a live run's first hour (5.8 MB at 10 ms blocks).
    const int64_t block = stream.block_frames();
    const double live_s = o.duration_s > 0 ? std::min(o.duration_s, 3600.0) : 3600.0;
    const int64_t frames = file_dev ? static_cast<int64_t>(file_dev->input().size()) + latency
                                    : static_cast<int64_t>(live_s * sr);
    runner.keep_timings(std::min<int64_t>(frames / block + 16, int64_t{1} << 26));
  }

  const pipeline::StreamLatency L = stream.latency();
  std::printf("rvc-rt stream: %s\nvoice: %s\ndevice: %s\n", file ? "file device" : "live audio",
              stream.backend().describe().c_str(), device->describe().c_str());
  std::printf("config:\n");
  const std::string cfg = stream.config().to_string();
  for (size_t a = 0, b; a < cfg.size(); a = b + 1) {
    b = cfg.find('\n', a);
    std::printf("  %s\n", cfg.substr(a, b - a).c_str());
  }
  char pipe[48] = "";
  if (L.pipeline > 0) std::snprintf(pipe, sizeof pipe, " + pipeline %.1f", ms(L.pipeline, sr));
  std::printf(
      "algorithmic latency: %.1f ms (%lld samples) = block %.1f + crossfade %.1f + search %.1f"
      " + voice %.1f + denoise %.1f%s + buffering %.1f ms\n",
      ms(latency, sr), static_cast<long long>(latency), ms(L.block, sr), ms(L.crossfade, sr),
      ms(L.search, sr), ms(L.backend, sr), ms(L.denoise, sr), pipe,
      ms(runner.prime_frames() - L.block, sr));
  std::printf(
      "output buffering: %lld samples (one block + period alignment + %.1f ms compute "
      "headroom)\n",
      static_cast<long long>(runner.prime_frames()), ms(headroom, sr));
  std::fflush(stdout);

  const bool tty = !o.quiet && isatty(fileno(stderr));
  g_interrupted = false;
  auto old_handler = std::signal(SIGINT, on_sigint);
  const auto t0 = std::chrono::steady_clock::now();
  runner.start();
  if (o.rt_priority > 0) {
    if (runner.rt_priority_note().empty()) {
      std::printf("scheduling: SCHED_FIFO %d (worker and its compute threads), %d (audio)\n",
                  o.rt_priority, o.rt_priority + 1);
    } else {
      std::printf("scheduling: ordinary: --rt-priority %d: %s\n", o.rt_priority,
                  runner.rt_priority_note().c_str());
    }
    std::fflush(stdout);
  }
  try {
    device->start(&runner);
  } catch (...) {
    runner.stop();
    std::signal(SIGINT, old_handler);
    throw;
  }
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  // A live device finishing on its own means it went away (unplugged, its server quit).
  bool finished = false;
  while (!g_interrupted) {
    if ((finished = device->wait_finished(0.25))) break;
    if (tty) print_status(runner, latency, sr, ms(L.block, sr));
    if (o.duration_s > 0 && elapsed() >= o.duration_s) break;
  }
  const bool device_lost = finished && !file;
  const double wall = elapsed();
  std::signal(SIGINT, old_handler);
  device->stop();  // the file device writes OUT here
  runner.stop();
  if (tty) std::fprintf(stderr, "\r\x1b[K");

  const audio::RunnerStats s = runner.stats();
  const double audio_s = static_cast<double>(s.blocks) * ms(L.block, sr) / 1000.0;
  std::printf("summary:\n  audio %.2f s in %.2f s wall (%.1fx real time), %llu blocks\n", audio_s,
              wall, wall > 0 ? audio_s / wall : 0.0, static_cast<unsigned long long>(s.blocks));
  std::printf("  block compute p50 %.2f ms, p99 %.2f ms, max %.2f ms (block %.1f ms)\n",
              s.compute_p50_ms, s.compute_p99_ms, s.compute_max_ms, ms(L.block, sr));
  std::printf("  xruns %llu, input overrun %llu, output underrun %llu, dropped input %llu frames\n",
              static_cast<unsigned long long>(s.device_xruns),
              static_cast<unsigned long long>(s.input_overrun_frames),
              static_cast<unsigned long long>(s.output_underrun_frames),
              static_cast<unsigned long long>(s.dropped_input_frames));
  const std::vector<audio::BlockTiming> timings = runner.timings();
  const int64_t per_window = std::max<int64_t>(1, std::llround(10000.0 / ms(L.block, sr)));
  const audio::WindowExtremes wx = audio::window_extremes(timings, per_window);
  if (wx.windows >= 2) {
    // Whether the slow blocks came in bursts: the 10 s stretches with the highest and the
    // lowest median.
    std::printf(
        "  10 s windows (%lld): slowest p50 %.2f ms, p99 %.2f ms (from %.0f s); quietest p50 "
        "%.2f ms, p99 %.2f ms (from %.0f s)\n",
        static_cast<long long>(wx.windows), wx.slowest.p50_ms, wx.slowest.p99_ms,
        wx.slowest.start_s, wx.quietest.p50_ms, wx.quietest.p99_ms, wx.quietest.start_s);
  }
  if (timings_out) {
    std::fprintf(timings_out.get(), "block,start_s,compute_ms\n");
    for (size_t i = 0; i < timings.size(); ++i) {
      std::fprintf(timings_out.get(), "%zu,%.4f,%.3f\n", i, timings[i].start_s,
                   timings[i].compute_ms);
    }
    const bool ok = std::fclose(timings_out.release()) == 0;
    if (!ok) fail("--timings-file ", o.timings_file, ": write failed");
    std::printf("  wrote %s: %zu blocks\n", o.timings_file.c_str(), timings.size());
  }
  if (file_dev) {
    const auto& x = file_dev->input();
    const auto& y = file_dev->output();
    double corr = 0.0;
    const double d = audio::measure_delay_s(x.data(), static_cast<int64_t>(x.size()), y.data(),
                                            static_cast<int64_t>(y.size()), sr,
                                            std::max(1.0, 2.0 * ms(latency, sr) / 1000.0), &corr);
    if (d >= 0) {
      std::printf(
          "  latency: algorithmic %.1f ms, measured %.1f ms (input-to-output envelope "
          "cross-correlation %.2f)\n",
          ms(latency, sr), d * 1000.0, corr);
    } else {
      std::printf("  latency: algorithmic %.1f ms, measured: no reliable alignment\n",
                  ms(latency, sr));
    }
    std::printf("  wrote %s: %.2f s (input %.2f s + latency)\n", o.output_file.c_str(),
                static_cast<double>(y.size()) / sr, static_cast<double>(x.size()) / sr);
  } else {
    std::printf("  latency: algorithmic %.1f ms + driver %.1f ms\n", ms(latency, sr),
                device->device_latency_s() * 1000.0);
  }
  std::fflush(stdout);
  if (device_lost) {
    std::fprintf(stderr,
                 "rvc-rt: error: the audio device stopped after %.1f s (disconnected, or its "
                 "audio server quit); stream stopped\n",
                 wall);
    return 3;
  }
  return 0;
}

const RegisterCommand kRegister("stream",
                                "live voice conversion: audio device (or file device) in -> out",
                                run_stream);

}  // namespace
}  // namespace rvc::app
