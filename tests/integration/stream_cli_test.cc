// rvc-rt stream through the file device, run as a user would: the real binary on
// assets/sample.wav with the built-in voice (and the fixture RVC voices). Checks the length (input
// + reported latency), the pitch shift, the absence of clicks at block joins, agreement with rvc-rt
// convert after alignment, --realtime pacing, settings from RVC_* variables and the config file,
// option errors and rvc-rt devices without sound hardware.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rvc/dsp/f0.h"
#include "rvc/formats/audio_file.h"
#include "support/audio_checks.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

using test::q;

class StreamCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("rvc_stream_cli");
    sample_ = fs::path(RVC_SOURCE_DIR) / "assets" / "sample.wav";
    ASSERT_TRUE(fs::exists(sample_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  int rvc(const std::string& args, std::string* out) {
    out->clear();
    return test::run_command(q(test::rvc_rt_bin()) + " " + args, out, true);
  }
  // env: "NAME=value ... " variables for this one command.
  int rvc_env(const std::string& env, const std::string& args, std::string* out) {
    out->clear();
    return test::run_command("env " + env + q(test::rvc_rt_bin()) + " " + args, out, true);
  }

  fs::path dir_, sample_;
};

// "algorithmic latency: 226.6 ms (3626 samples)" -> 3626; -1 if absent.
int64_t reported_latency(const std::string& log) {
  const std::string key = "algorithmic latency: ";
  const size_t a = log.find(key);
  if (a == std::string::npos) return -1;
  const size_t b = log.find('(', a);
  if (b == std::string::npos) return -1;
  return std::stoll(log.substr(b + 1));
}

// "output buffering: 1634 samples" -> 1634; -1 if absent.
int64_t reported_buffering(const std::string& log) {
  const std::string key = "output buffering: ";
  const size_t a = log.find(key);
  return a == std::string::npos ? -1 : std::stoll(log.substr(a + key.size()));
}

// Second difference at t normalised by the RMS of the surrounding 10 ms (a click is a large
// second difference relative to the local level).
double roughness(const std::vector<float>& y, int64_t t, int sr) {
  const int64_t h = sr / 200;
  double e = 0.0;
  for (int64_t i = t - h; i < t + h; ++i) e += double(y[size_t(i)]) * y[size_t(i)];
  const double rms = std::sqrt(e / double(2 * h));
  if (rms < 0.02) return -1.0;  // too quiet to judge
  const double d2 = std::abs(double(y[size_t(t + 1)]) - 2.0 * y[size_t(t)] + y[size_t(t - 1)]);
  return d2 / rms;
}

TEST_F(StreamCli, BuiltinVoiceThroughTheFileDevice) {
  const fs::path out = dir_ / "out.wav", conv = dir_ / "conv.wav";
  std::string log;
  ASSERT_EQ(rvc("stream --input-file " + q(sample_) + " --output-file " + q(out) +
                    " --pitch 5 --block-ms 30",
                &log),
            0)
      << log;
  EXPECT_NE(log.find("built-in"), std::string::npos) << log;
  EXPECT_NE(log.find("block_ms = 30"), std::string::npos) << "effective config printed\n" << log;
  EXPECT_NE(log.find("measured"), std::string::npos) << log;
  EXPECT_NE(log.find("xruns 0"), std::string::npos) << log;
  EXPECT_EQ(log.find('\r'), std::string::npos) << "no live line off a terminal";
  const int64_t lat = reported_latency(log), prime = reported_buffering(log);
  ASSERT_GT(lat, 0) << log;
  ASSERT_GT(prime, 0) << log;
  // Auto headroom: the built-in voice computes a block in well under 1 ms, and still gets 10 ms
  // against scheduling stalls (at most the 30 ms block).
  const std::string hk = " ms compute headroom";
  const size_t hp = log.find(hk);
  ASSERT_NE(hp, std::string::npos) << log;
  const double headroom_ms = std::stod(log.substr(log.rfind(' ', hp - 1) + 1));
  EXPECT_GE(headroom_ms, 10.0) << log;
  EXPECT_LE(headroom_ms, 30.0) << log;

  const auto in = formats::read_audio_mono(sample_.string());
  const auto got = formats::read_audio_mono(out.string());
  const int sr = in.sample_rate;
  ASSERT_EQ(got.sample_rate, sr);
  // The whole input comes out, after the latency.
  ASSERT_EQ(static_cast<int64_t>(got.samples.size()),
            static_cast<int64_t>(in.samples.size()) + lat);
  const std::vector<float> aligned(got.samples.begin() + lat, got.samples.end());

  const double want = std::pow(2.0, 5.0 / 12.0);
  EXPECT_NEAR(test::median_f0_ratio(in.samples, aligned, sr), want, 0.02 * want);

  // Block joins in device time: prime (the output buffering) + k * block.
  const int64_t block = sr * 30 / 1000;
  double join_sum = 0.0, all_sum = 0.0;
  int join_n = 0, all_n = 0;
  for (int64_t t = sr / 100; t + sr / 100 < static_cast<int64_t>(got.samples.size()); ++t) {
    const double r = roughness(got.samples, t, sr);
    if (r < 0) continue;
    const int64_t phase = (t - prime % block + block) % block;
    const bool join = phase == 0 || phase == 1;
    (join ? join_sum : all_sum) += r;
    ++(join ? join_n : all_n);
  }
  ASSERT_GT(join_n, 20);
  RecordProperty("join_roughness_ratio", std::to_string((join_sum / join_n) / (all_sum / all_n)));
  EXPECT_LT(join_sum / join_n, 2.0 * all_sum / all_n)
      << "block joins are rougher than the rest: clicks";

  // Same settings through rvc-rt convert (latency removed there): equal after alignment.
  ASSERT_EQ(rvc("convert " + q(sample_) + " -o " + q(conv) + " --pitch 5 --quiet", &log), 0) << log;
  const auto ref = formats::read_audio_mono(conv.string());
  ASSERT_EQ(ref.samples.size(), in.samples.size());
  double best = -1.0;
  int64_t best_lag = 0;
  for (int64_t lag = lat - 400; lag <= lat + 400; ++lag) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < ref.samples.size(); ++i) {
      const int64_t j = static_cast<int64_t>(i) + lag;
      if (j < 0 || j >= static_cast<int64_t>(got.samples.size())) continue;
      xy += double(ref.samples[i]) * got.samples[size_t(j)];
      xx += double(ref.samples[i]) * ref.samples[i];
      yy += double(got.samples[size_t(j)]) * got.samples[size_t(j)];
    }
    const double r = xy / std::sqrt(xx * yy + 1e-20);
    if (r > best) {
      best = r;
      best_lag = lag;
    }
  }
  RecordProperty("convert_correlation", std::to_string(best));
  EXPECT_EQ(best_lag, lat) << "stream output = convert output delayed by the reported latency";
  EXPECT_GT(best, 0.99);
}

TEST_F(StreamCli, RealtimePacingKeepsLengthAndFormantShiftRuns) {
  // One second of the sample, played at wall-clock pace.
  const auto in = formats::read_audio_mono(sample_.string());
  const fs::path clip = dir_ / "clip.wav", out = dir_ / "out.flac";
  formats::write_audio(clip.string(), in.samples.data(), in.sample_rate, in.sample_rate);
  std::string log;
  ASSERT_EQ(rvc("stream --input-file " + q(clip) + " --output-file " + q(out) +
                    " --realtime --formant 3 --threshold-db -45 --block-ms 50",
                &log),
            0)
      << log;
  EXPECT_NE(log.find("paced in real time"), std::string::npos) << log;
  const auto got = formats::read_audio_mono(out.string());
  EXPECT_EQ(static_cast<int64_t>(got.samples.size()), in.sample_rate + reported_latency(log));
}

// An RVC voice (each fixture pipeline case's tiny models) through the same live path.
TEST_F(StreamCli, RvcModelThroughTheFileDevice) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& files = c.manifest.at("files");
    if (!files.contains("input_wav")) continue;
    const fs::path in_wav = c.file(files.at("input_wav").at("file"));
    const fs::path out = dir_ / (c.name + ".wav");
    std::string args = "stream --input-file " + q(in_wav) + " --output-file " + q(out) +
                       " --model " + q(c.file(files.at("model").at("file"))) + " --hubert " +
                       q(c.file(files.at("hubert").at("file"))) +
                       " --f0-method yin --block-ms 100 --extra-ms 300 --pitch 2";
    if (files.contains("index")) {
      args += " --index " + q(c.file(files.at("index").at("file"))) + " --index-rate 0.5";
    }
    std::string log;
    ASSERT_EQ(rvc(args, &log), 0) << log;
    EXPECT_NE(log.find("voice: RVC"), std::string::npos) << log;
    const int64_t lat = reported_latency(log);
    ASSERT_GT(lat, 0) << log;
    const auto in = formats::read_audio_mono(in_wav.string());
    const auto got = formats::read_audio_mono(out.string());
    EXPECT_EQ(static_cast<int64_t>(got.samples.size()),
              static_cast<int64_t>(in.samples.size()) + lat);
    double e = 0.0;
    for (float v : got.samples) e += double(v) * v;
    EXPECT_GT(e, 0.0) << "the voice is audible";
  }
}

// --pipeline: the same voice one block later, on two threads or one. The latency line names the
// pipeline term, the reported latency grows by exactly one block, and the output is the serial
// run's shifted by it.
TEST_F(StreamCli, PipelinedRvcIsTheSerialOutputOneBlockLater) {
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty());
  int runs = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& files = c.manifest.at("files");
    if (!files.contains("input_wav")) continue;
    const fs::path in_wav = c.file(files.at("input_wav").at("file"));
    // A fixed headroom: the automatic one follows the warm-up's timing.
    const std::string args = "stream --input-file " + q(in_wav) + " --model " +
                             q(c.file(files.at("model").at("file"))) + " --hubert " +
                             q(c.file(files.at("hubert").at("file"))) +
                             " --f0-method yin --block-ms 100 --extra-ms 300 --pitch 3 "
                             "--rms-mix 0.5 --headroom-ms 30 --output-file ";
    std::string log_serial, log_pipe;
    const fs::path out_serial = dir_ / "serial.wav", out_pipe = dir_ / "pipelined.wav";
    ASSERT_EQ(rvc(args + q(out_serial), &log_serial), 0) << log_serial;
    ASSERT_EQ(rvc(args + q(out_pipe) + " --pipeline", &log_pipe), 0) << log_pipe;
    EXPECT_NE(log_pipe.find("pipeline = on"), std::string::npos) << log_pipe;
    EXPECT_NE(log_pipe.find(" + pipeline 100.0 + "), std::string::npos) << log_pipe;
    EXPECT_EQ(log_serial.find(" + pipeline "), std::string::npos) << log_serial;
    const auto in = formats::read_audio_mono(in_wav.string());
    const int64_t block = in.sample_rate / 10;
    const int64_t lat = reported_latency(log_serial), lat_pipe = reported_latency(log_pipe);
    ASSERT_GT(lat, 0) << log_serial;
    EXPECT_EQ(lat_pipe, lat + block);
    const auto a = formats::read_audio_mono(out_serial.string());
    const auto b = formats::read_audio_mono(out_pipe.string());
    ASSERT_EQ(static_cast<int64_t>(b.samples.size()),
              static_cast<int64_t>(a.samples.size()) + block);
    double max_diff = 0.0, energy = 0.0;
    for (size_t i = 0; i < a.samples.size(); ++i) {
      const double d = double(b.samples[i + size_t(block)]) - a.samples[i];
      max_diff = std::max(max_diff, std::abs(d));
      energy += double(a.samples[i]) * a.samples[i];
    }
    EXPECT_GT(energy, 0.0) << "the voice is audible";
    EXPECT_LE(max_diff, 2e-4) << "pipelined output is not the serial output one block later";
    // On one thread the two halves run one after the other: the same output.
    std::string log_one;
    const fs::path out_one = dir_ / "pipelined1.wav";
    ASSERT_EQ(rvc(args + q(out_one) + " --pipeline --threads 1", &log_one), 0) << log_one;
    EXPECT_EQ(reported_latency(log_one), lat_pipe);
    const auto one = formats::read_audio_mono(out_one.string());
    ASSERT_EQ(one.samples.size(), b.samples.size());
    double one_diff = 0.0;
    for (size_t i = 0; i < b.samples.size(); ++i) {
      one_diff = std::max(one_diff, std::abs(double(one.samples[i]) - b.samples[i]));
    }
    EXPECT_LE(one_diff, 2e-4) << "one thread changed the pipelined output";
    std::printf("%s: max |pipelined - serial one block later| %.3g\n", c.name.c_str(), max_diff);
    ++runs;
  }
  EXPECT_GT(runs, 0);
}

TEST_F(StreamCli, BadOptionsFailWithOneLine) {
  std::string log;
  EXPECT_EQ(rvc("stream --input-file " + q(sample_), &log), 2);
  EXPECT_NE(log.find("--output-file"), std::string::npos) << log;
  EXPECT_EQ(rvc("stream --input-file " + q(sample_) + " --output-file " + q(dir_ / "o.wav") +
                    " --pitch 40",
                &log),
            2);
  EXPECT_NE(log.find("pitch"), std::string::npos) << log;
  EXPECT_EQ(
      rvc("stream --input-file " + q(dir_ / "missing.wav") + " --output-file " + q(dir_ / "o.wav"),
          &log),
      2);
  EXPECT_NE(log.find("missing.wav"), std::string::npos) << log;
  EXPECT_EQ(rvc("stream --realtime", &log), 2);
  EXPECT_EQ(
      rvc("stream --block-ms 2 --input-file " + q(sample_) + " --output-file " + q(dir_ / "o.wav"),
          &log),
      2);
  EXPECT_NE(log.find("--block-ms"), std::string::npos) << log;
  EXPECT_EQ(
      rvc("stream --hubert x.pt --input-file " + q(sample_) + " --output-file " + q(dir_ / "o.wav"),
          &log),
      2);
  EXPECT_NE(log.find("--model"), std::string::npos) << log;
  EXPECT_EQ(rvc("stream --input-file " + q(sample_) + " --output-file " + q(dir_ / "o.wav") +
                    " --timings-file " + q(dir_ / "no" / "t.csv"),
                &log),
            2);
  EXPECT_NE(log.find("--timings-file"), std::string::npos) << log;
}

// --rt-priority N: the start-up says the worker runs under SCHED_FIFO N and the audio thread at
// N + 1, or why the system refused (the run goes on at ordinary priority); either way the output
// is the same as without it. Out of range is a one-line error.
TEST_F(StreamCli, RtPriorityReportsItsSchedulingAndChangesNoSample) {
  std::string log;
  const fs::path plain = dir_ / "plain.wav", rt = dir_ / "rt.wav";
  ASSERT_EQ(rvc("stream --input-file " + q(sample_) + " --output-file " + q(plain), &log), 0)
      << log;
  EXPECT_EQ(log.find("scheduling:"), std::string::npos) << log;
  ASSERT_EQ(
      rvc("stream --input-file " + q(sample_) + " --output-file " + q(rt) + " --rt-priority 5",
          &log),
      0)
      << log;
  const bool fifo = log.find(
                        "scheduling: SCHED_FIFO 5 (worker and its compute threads), 6 "
                        "(audio)") != std::string::npos;
  const bool refused =
      log.find("scheduling: ordinary: --rt-priority 5: SCHED_FIFO 5 not permitted") !=
      std::string::npos;
  EXPECT_TRUE(fifo || refused) << log;
  const auto a = formats::read_audio_mono(plain.string());
  const auto b = formats::read_audio_mono(rt.string());
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(
      rvc("stream --input-file " + q(sample_) + " --output-file " + q(rt) + " --rt-priority 98",
          &log),
      2);
  EXPECT_NE(log.find("--rt-priority"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
}

// --timings-file: one CSV row per block (block, start s, compute ms) after a header, as many as
// the summary's block count, in order; a run of two 10 s windows or more names its slowest and
// quietest.
TEST_F(StreamCli, TimingsFileHasEveryBlockAndSummaryNamesWindows) {
  const auto in = formats::read_audio_mono(sample_.string());
  std::vector<float> longer;
  while (longer.size() < static_cast<size_t>(in.sample_rate) * 22) {
    longer.insert(longer.end(), in.samples.begin(), in.samples.end());
  }
  const fs::path wav = dir_ / "long.wav", csv = dir_ / "t.csv";
  formats::write_audio(wav.string(), longer.data(), static_cast<int64_t>(longer.size()),
                       in.sample_rate);
  std::string log;
  ASSERT_EQ(rvc("stream --input-file " + q(wav) + " --output-file " + q(dir_ / "o.wav") +
                    " --block-ms 50 --timings-file " + q(csv),
                &log),
            0)
      << log;
  const size_t at = log.find(" blocks\n");
  ASSERT_NE(at, std::string::npos) << log;
  const int64_t blocks = std::stoll(log.substr(log.rfind(' ', at - 1) + 1));
  ASSERT_GT(blocks, 400) << log;
  std::ifstream f(csv);
  std::string line;
  ASSERT_TRUE(std::getline(f, line));
  EXPECT_EQ(line, "block,start_s,compute_ms");
  int64_t rows = 0;
  double last_start = 0.0;
  while (std::getline(f, line)) {
    long long b = -1;
    double start = -1.0, ms = -1.0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lld,%lf,%lf", &b, &start, &ms), 3) << line;
    EXPECT_EQ(b, rows);
    EXPECT_GE(start, last_start) << line;
    EXPECT_GE(ms, 0.0) << line;
    last_start = start;
    ++rows;
  }
  EXPECT_EQ(rows, blocks);
  EXPECT_NE(log.find("10 s windows (2): slowest p50"), std::string::npos) << log;
  EXPECT_NE(log.find("wrote " + csv.string() + ": " + std::to_string(blocks) + " blocks"),
            std::string::npos)
      << log;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
}

// One line ending in a newline: what a bad setting prints.
bool one_line(const std::string& log) { return !log.empty() && log.find('\n') == log.size() - 1; }

// The effective config line "block_ms = 30 (480 samples)" -> "30".
std::string config_value(const std::string& log, const std::string& key) {
  const size_t a = log.find("  " + key + " = ");
  if (a == std::string::npos) return "";
  const size_t b = a + key.size() + 5;
  return log.substr(b, log.find_first_of(" \n", b) - b);
}

// RVC_* variables and the config file ([stream] section and top level) reach the stream, with
// flags > environment > config file; device keys from the environment do not disturb the file
// device.
TEST_F(StreamCli, EnvironmentAndConfigFileTakeEffect) {
  const fs::path cfg = dir_ / "rvc.toml", out = dir_ / "out.wav";
  write_text(cfg,
             "# shared by convert and stream\n"
             "block-ms = 40\n"
             "[convert]\n"
             "format = flac\n"
             "[stream]\n"
             "pitch = 5   # semitones\n"
             "formant = 1\n");
  const std::string files = " --input-file " + q(sample_) + " --output-file " + q(out);
  std::string log;
  ASSERT_EQ(rvc("stream --config " + q(cfg) + files, &log), 0) << log;
  EXPECT_EQ(config_value(log, "block_ms"), "40") << log;
  EXPECT_EQ(config_value(log, "pitch"), "5") << log;
  EXPECT_EQ(config_value(log, "formant"), "1") << log;
  const auto in = formats::read_audio_mono(sample_.string());
  auto got = formats::read_audio_mono(out.string());
  const int64_t lat = reported_latency(log);
  ASSERT_EQ(static_cast<int64_t>(got.samples.size()),
            static_cast<int64_t>(in.samples.size()) + lat);
  std::vector<float> aligned(got.samples.begin() + lat, got.samples.end());
  const double want = std::pow(2.0, 5.0 / 12.0);
  EXPECT_NEAR(test::median_f0_ratio(in.samples, aligned, in.sample_rate), want, 0.02 * want)
      << "the config file's pitch is applied to the audio";

  // The environment over the file (RVC_CONFIG names it), a flag over both; device settings in the
  // environment are for live runs and leave the file device alone.
  const std::string env = "RVC_CONFIG=" + q(cfg) +
                          " RVC_BLOCK_MS=30 RVC_PITCH=-3 RVC_INPUT=no-such-device"
                          " RVC_SAMPLE_RATE=44100 ";
  ASSERT_EQ(rvc_env(env, "stream" + files, &log), 0) << log;
  EXPECT_EQ(config_value(log, "block_ms"), "30") << log;
  EXPECT_EQ(config_value(log, "pitch"), "-3") << log;
  EXPECT_EQ(config_value(log, "formant"), "1") << log;
  EXPECT_NE(log.find("file device"), std::string::npos) << log;
  got = formats::read_audio_mono(out.string());
  aligned.assign(got.samples.begin() + reported_latency(log), got.samples.end());
  EXPECT_NEAR(test::median_f0_ratio(in.samples, aligned, in.sample_rate), 1.0 / std::pow(2.0, 0.25),
              0.02)
      << "RVC_PITCH is applied to the audio";
  ASSERT_EQ(rvc_env(env, "stream --block-ms 50 --pitch 0" + files, &log), 0) << log;
  EXPECT_EQ(config_value(log, "block_ms"), "50") << log;
  EXPECT_EQ(config_value(log, "pitch"), "0") << log;

  // --print-config says where each value came from and is itself a config file.
  ASSERT_EQ(rvc_env(env, "stream --print-config --pitch 2", &log), 0) << log;
  EXPECT_NE(log.find("block-ms = 30"), std::string::npos) << log;
  EXPECT_NE(log.find("environment (RVC_BLOCK_MS)"), std::string::npos) << log;
  EXPECT_NE(log.find("pitch = 2"), std::string::npos) << log;
  EXPECT_NE(log.find("formant = 1"), std::string::npos) << log;
  EXPECT_NE(log.find("rvc.toml:7: formant"), std::string::npos) << log;
  const fs::path saved = dir_ / "saved.toml";
  write_text(saved, log);
  ASSERT_EQ(rvc("stream --config " + q(saved) + " --print-config", &log), 0) << log;
  EXPECT_NE(log.find("pitch = 2 "), std::string::npos) << log;
}

// A bad value names the flag, the variable or the file line; unknown flags and keys are refused.
TEST_F(StreamCli, BadSettingsNameTheirSource) {
  const std::string files = " --input-file " + q(sample_) + " --output-file " + q(dir_ / "o.wav");
  std::string log;
  EXPECT_EQ(rvc("stream --block-ms 2" + files, &log), 2);
  EXPECT_NE(log.find("--block-ms: expected 10..5000, got 2"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(rvc("stream --pitch=high" + files, &log), 2);
  EXPECT_NE(log.find("--pitch: expected a number, got 'high'"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(rvc("stream --denoise loud" + files, &log), 2);
  EXPECT_NE(log.find("--denoise: expected off | low"), std::string::npos) << log;
  EXPECT_EQ(rvc_env("RVC_THREADS=0 ", "stream" + files, &log), 2);
  EXPECT_NE(log.find("RVC_THREADS: expected 1..256, got 0"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(rvc_env("RVC_F0_METHOD=crepe ", "stream" + files, &log), 2);
  EXPECT_NE(log.find("RVC_F0_METHOD: expected rmvpe | yin, got 'crepe'"), std::string::npos) << log;

  const fs::path cfg = dir_ / "bad.toml";
  write_text(cfg, "[serve]\nworkers = 4\n[stream]\nextra_ms = -5\n");
  EXPECT_EQ(rvc("stream --config " + q(cfg) + files, &log), 2);
  EXPECT_NE(log.find("bad.toml:4: extra-ms: expected 0..10000, got -5"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  write_text(cfg, "[stream]\ncolour = red\n");
  EXPECT_EQ(rvc_env("RVC_CONFIG=" + q(cfg) + " ", "stream" + files, &log), 2);
  EXPECT_NE(log.find("bad.toml:2: colour: unknown setting for 'rvc-rt stream'"), std::string::npos)
      << log;
  write_text(cfg, "input-file = x.wav\n");
  EXPECT_EQ(rvc("stream --config " + q(cfg) + files, &log), 2);
  EXPECT_NE(log.find("input-file: unknown setting"), std::string::npos)
      << "files are command-line only\n"
      << log;

  EXPECT_EQ(rvc("stream --bogus 3" + files, &log), 2);
  EXPECT_NE(log.find("unknown option '--bogus' for 'stream'"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(rvc("stream --block-ms", &log), 2);
  EXPECT_NE(log.find("--block-ms: expected a value"), std::string::npos) << log;
  EXPECT_EQ(rvc("stream extra" + files, &log), 2);
  EXPECT_NE(log.find("unexpected argument 'extra'"), std::string::npos) << log;
  // Files and devices on one command line contradict each other.
  EXPECT_EQ(rvc("stream --input default" + files, &log), 2);
  EXPECT_NE(log.find("either files"), std::string::npos) << log;
}

TEST_F(StreamCli, HelpListsEveryFlagWithItsDefault) {
  std::string log;
  ASSERT_EQ(rvc("stream --help", &log), 0) << log;
  for (const char* flag :
       {"--input-file IN",    "--output-file OUT",  "--realtime",        "--input DEV",
        "--output DEV",       "--sample-rate HZ",   "--buffer-frames N", "--duration S",
        "--headroom-ms N",    "--block-ms N",       "--extra-ms N",      "--crossfade-ms N",
        "--sola-search-ms N", "--pitch N",          "--formant N",       "--threshold-db N",
        "--input-gain-db N",  "--output-gain-db N", "--denoise LEVEL",   "--models-dir DIR",
        "--model M",          "--hubert FILE",      "--rmvpe FILE",      "--index FILE",
        "--f0-method M",      "--index-rate X",     "--rms-mix X",       "--speaker N",
        "--threads N",        "--precision P",      "--quiet",           "--print-config",
        "--config FILE"}) {
    EXPECT_NE(log.find(std::string("  ") + flag), std::string::npos) << flag << "\n" << log;
  }
  EXPECT_NE(log.find("(default 100)"), std::string::npos) << log;
  EXPECT_NE(log.find("default 500)"), std::string::npos) << log;
  EXPECT_NE(log.find("RVC_"), std::string::npos) << log;
}

TEST_F(StreamCli, DevicesWorksWithOrWithoutSoundHardware) {
  std::string log;
  ASSERT_EQ(rvc("devices", &log), 0) << log;
  EXPECT_NE(log.find("PortAudio"), std::string::npos) << log;
  EXPECT_TRUE(log.find("index") != std::string::npos ||
              log.find("no audio devices found") != std::string::npos)
      << log;
  EXPECT_EQ(log.find("ALSA lib"), std::string::npos) << "driver probing noise is silenced";

  // A shared config file names voice keys devices does not have: it is not read.
  const fs::path cfg = dir_ / "rvc.toml";
  write_text(cfg, "pitch = 3\n");
  EXPECT_EQ(rvc_env("RVC_CONFIG=" + q(cfg) + " ", "devices", &log), 0) << log;
  EXPECT_EQ(rvc("devices --help", &log), 0) << log;
  EXPECT_NE(log.find("usage: rvc-rt devices"), std::string::npos) << log;
  EXPECT_NE(log.find("does not read $RVC_CONFIG"), std::string::npos) << log;
  EXPECT_EQ(rvc("devices --all", &log), 2);
  EXPECT_NE(log.find("unknown option '--all' for 'devices'"), std::string::npos) << log;
  EXPECT_TRUE(one_line(log)) << log;
  EXPECT_EQ(rvc("devices extra", &log), 2);
  EXPECT_NE(log.find("devices: takes no arguments"), std::string::npos) << log;
}

}  // namespace
}  // namespace rvc
