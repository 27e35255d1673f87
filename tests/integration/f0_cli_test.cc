// rvc-rt f0 on every fixture case of kind "rmvpe": the case's audio written as a 16 kHz float32
// WAV, then the CSV ("time,f0" header, frame i at i * 0.01 s) must match the case's f0.npy within
// the manifest's f0 tolerance (frames whose max salience is within 1e-4 of the threshold may
// flip). Also --method yin (no model) and the one-line errors (exit 2).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rvc/formats/audio_file.h"
#include "rvc/formats/npy.h"
#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("rvc_f0_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

int f0_cmd(const std::string& args, std::string* out) {
  return run_command(rvc_rt_bin().string() + " f0 " + args, out, /*merge_stderr=*/true);
}

using test::q;

Tensor load(const Case& c, const std::string& section, const std::string& key) {
  const std::string file = c.manifest.at(section).at(key).at("file").get<std::string>();
  return formats::read_npy(c.file(file).string()).to_tensor();
}

// Parses the CSV; checks the header and the time column, returns the f0 column.
std::vector<double> read_csv(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  EXPECT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "time,f0");
  std::vector<double> f0;
  while (std::getline(in, line)) {
    double t = -1, v = -1;
    EXPECT_EQ(std::sscanf(line.c_str(), "%lf,%lf", &t, &v), 2) << line;
    EXPECT_NEAR(t, 0.01 * static_cast<double>(f0.size()), 1e-9) << line;
    f0.push_back(v);
  }
  return f0;
}

fs::path write_wav(const Case& c, const fs::path& dir) {
  const Tensor audio = load(c, "inputs", "audio");
  const fs::path wav = dir / (c.name + ".wav");
  formats::write_audio(wav.string(), audio.data(), audio.numel(), 16000,
                       formats::SampleFormat::kFloat32);
  return wav;
}

TEST(F0Cli, RmvpeCsvMatchesUpstream) {
  const fs::path tmp = temp_dir();
  const auto cases = cases_of_kind("rmvpe");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind rmvpe";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path model = c.file(c.manifest.at("files").at("rmvpe").at("file").get<std::string>());
    const fs::path wav = write_wav(c, tmp);
    const fs::path out = tmp / (c.name + ".csv");
    const double thred = c.manifest.at("parameters").value("thred", 0.03);
    std::string log;
    ASSERT_EQ(f0_cmd(q(wav) + " -o " + q(out) + " --rmvpe " + q(model) + " --threshold " +
                         std::to_string(thred),
                     &log),
              0)
        << log;
    EXPECT_NE(log.find("real-time"), std::string::npos) << log;
    const std::vector<double> f0 = read_csv(out);
    const Tensor want = load(c, "outputs", "f0");
    const Tensor sal = load(c, "outputs", "salience");
    ASSERT_EQ(static_cast<int64_t>(f0.size()), want.numel());
    const auto& tol = c.manifest.at("tolerances").at("f0");
    const double atol = tol.value("atol", 0.05), rtol = tol.value("rtol", 1e-5);
    const int64_t bins = sal.dim(1);
    int64_t bad = 0;
    for (int64_t t = 0; t < want.numel(); ++t) {
      const float* row = sal.data() + t * bins;
      if (std::abs(*std::max_element(row, row + bins) - thred) < 1e-4) continue;
      // The CSV keeps 4 decimals: allow half a unit of the last place on top.
      const double d = std::abs(f0[static_cast<size_t>(t)] - want[t]);
      if (d > atol + rtol * std::abs(want[t]) + 5e-5 && ++bad <= 5) {
        ADD_FAILURE() << "frame " << t << ": " << f0[static_cast<size_t>(t)] << " want " << want[t];
      }
    }
    EXPECT_EQ(bad, 0);

    // YIN needs no model and gives the same frame grid.
    const fs::path yout = tmp / (c.name + "_yin.csv");
    ASSERT_EQ(f0_cmd(q(wav) + " -o " + q(yout) + " --method yin", &log), 0) << log;
    const std::vector<double> yf0 = read_csv(yout);
    EXPECT_EQ(yf0.size(), f0.size());
    for (double v : yf0) EXPECT_TRUE(v == 0 || (v >= 50 && v <= 1100)) << v;
  }
  fs::remove_all(tmp);
}

TEST(F0Cli, OneLineErrors) {
  const fs::path tmp = temp_dir();
  fs::path hubert, voice, rmvpe, wav;
  for (const Case& c : all_cases()) {
    const json& files = c.manifest.value("files", json::object());
    auto pick = [&](const char* key, fs::path* dst) {
      if (dst->empty() && files.contains(key)) {
        *dst = c.file(files.at(key).at("file").get<std::string>());
      }
    };
    pick("hubert", &hubert);
    pick("model", &voice);
    pick("rmvpe", &rmvpe);
    if (wav.empty() && c.manifest.value("kind", "") == "rmvpe") wav = write_wav(c, tmp);
  }
  ASSERT_FALSE(rmvpe.empty());
  ASSERT_FALSE(wav.empty());
  const std::string out = " -o " + q(tmp / "x.csv");
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    std::string log;
    EXPECT_EQ(f0_cmd(args, &log), 2) << log;
    EXPECT_NE(log.find("rvc-rt: error:"), std::string::npos) << log;
    EXPECT_NE(log.find(needle), std::string::npos) << log;
    EXPECT_EQ(log.find('\n'), log.size() - 1) << log;  // one line
  };
  if (!hubert.empty()) {
    expect_error(q(wav) + out + " --rmvpe " + q(hubert),
                 "is a HuBERT checkpoint, expected an RMVPE model");
  }
  if (!voice.empty()) {
    expect_error(q(wav) + out + " --rmvpe " + q(voice), "expected an RMVPE model");
  }
  expect_error(q(wav) + out + " --rmvpe " + q(tmp / "missing.pt"), "no such file");
  expect_error(q(wav) + out, "--rmvpe FILE is required");
  expect_error(q(tmp / "missing.wav") + out + " --rmvpe " + q(rmvpe), "no such audio file");
  const fs::path junk = tmp / "junk.wav";
  std::ofstream(junk) << "this is not audio";
  expect_error(q(junk) + out + " --rmvpe " + q(rmvpe), "junk.wav");
  expect_error(q(junk) + out + " --method yin", "junk.wav");
  expect_error(q(wav) + out + " --method crepe", "--method must be rmvpe or yin");
  EXPECT_FALSE(fs::exists(tmp / "x.csv"));
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace rvc::test
