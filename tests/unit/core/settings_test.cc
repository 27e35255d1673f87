// rvc::Settings: flags > environment > config file > defaults, and the errors of each layer.
#include "rvc/core/settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "support/cli.h"
#include "support/error_of.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

struct Opts {
  double pitch = 0.0;
  float index_rate = 0.75f;
  int threads = 2;
  uint64_t seed = 0;
  std::string method = "rmvpe", model, output;
  bool no_noise = false;
};

struct Fixture {
  Opts o;
  Settings s{"convert", "IN..."};
  Fixture() {
    s.add("pitch", "N", "semitones", &o.pitch).range(-48, 48);
    s.add("index-rate", "R", "index blend", &o.index_rate).range(0, 1);
    s.add("threads", "N", "threads", &o.threads).range(1, 256);
    s.add("seed", "N", "seed", &o.seed);
    s.add("f0-method", "M", "f0", &o.method).choices({"rmvpe", "yin"});
    s.add("model", "NAME", "voice", &o.model);
    s.add("output", "OUT", "output", &o.output).alias("-o").cli_only();
    s.add_flag("no-noise", "zero noise", &o.no_noise);
  }
};

EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

using test::error_of;

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("rvc_settings"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& text) {
    const fs::path p = dir_ / "rvc.toml";
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(SettingsTest, DefaultsStayWhenNothingIsGiven) {
  Fixture f;
  ASSERT_TRUE(f.s.load({"a.wav"}, env_of({})));
  EXPECT_EQ(f.o.pitch, 0.0);
  EXPECT_EQ(f.o.threads, 2);
  EXPECT_EQ(f.s.positional(), std::vector<std::string>{"a.wav"});
  EXPECT_EQ(f.s.source("pitch"), SettingSource::kDefault);
}

TEST_F(SettingsTest, FlagBeatsEnvironmentBeatsFile) {
  const std::string cfg = write("# test\npitch = 1\nthreads = 3\nindex_rate = 0.1\nseed = 9\n");
  Fixture f;
  ASSERT_TRUE(f.s.load({"--config", cfg, "--pitch=5", "x.wav", "-o", "out.wav"},
                       env_of({{"RVC_PITCH", "2"}, {"RVC_THREADS", "4"}})));
  EXPECT_EQ(f.o.pitch, 5.0);
  EXPECT_EQ(f.o.threads, 4);
  EXPECT_FLOAT_EQ(f.o.index_rate, 0.1f);
  EXPECT_EQ(f.o.seed, 9u);
  EXPECT_EQ(f.o.output, "out.wav");
  EXPECT_EQ(f.s.source("pitch"), SettingSource::kFlag);
  EXPECT_EQ(f.s.source("threads"), SettingSource::kEnvironment);
  EXPECT_EQ(f.s.source("index-rate"), SettingSource::kConfigFile);
  const std::string printed = f.s.effective_config();
  EXPECT_NE(printed.find("pitch = 5"), std::string::npos) << printed;
  EXPECT_NE(printed.find("RVC_THREADS"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("output"), std::string::npos) << "CLI-only settings are not printed";
}

TEST_F(SettingsTest, ConfigFileFromEnvironmentAndSections) {
  const std::string cfg =
      write("model = \"my # voice\"  # comment\n[serve]\nport = 80\n[convert]\nno_noise = yes\n");
  Fixture f;
  ASSERT_TRUE(f.s.load({}, env_of({{"RVC_CONFIG", cfg}})));
  EXPECT_EQ(f.o.model, "my # voice");
  EXPECT_TRUE(f.o.no_noise);
  EXPECT_EQ(f.s.config_path(), cfg);
}

TEST_F(SettingsTest, PrintedConfigReadsBack) {
  Fixture a;
  ASSERT_TRUE(a.s.load({"--pitch", "-3.5", "--model", "a \"b\"", "--no-noise"}, env_of({})));
  const std::string cfg = write(a.s.effective_config());
  Fixture b;
  ASSERT_TRUE(b.s.load({"--config", cfg}, env_of({})));
  EXPECT_EQ(b.o.pitch, -3.5);
  EXPECT_EQ(b.o.model, "a \"b\"");
  EXPECT_TRUE(b.o.no_noise);
}

TEST_F(SettingsTest, FileErrorsNameFileLineAndKey) {
  std::string cfg = write("pitch = 1\n\ncolour = blue\n");
  std::string e = error_of([&] { Fixture().s.load({"--config", cfg}, env_of({})); });
  EXPECT_NE(e.find(cfg + ":3: colour"), std::string::npos) << e;
  cfg = write("threads = many\n");
  e = error_of([&] { Fixture().s.load({"--config", cfg}, env_of({})); });
  EXPECT_NE(e.find(cfg + ":1: threads: expected an integer"), std::string::npos) << e;
  cfg = write("index-rate = 2\n");
  e = error_of([&] { Fixture().s.load({"--config", cfg}, env_of({})); });
  EXPECT_NE(e.find(":1: index-rate: expected 0..1"), std::string::npos) << e;
  cfg = write("just words\n");
  e = error_of([&] { Fixture().s.load({"--config", cfg}, env_of({})); });
  EXPECT_NE(e.find(":1: expected 'key = value'"), std::string::npos) << e;
  cfg = write("output = x.wav\n");  // CLI-only keys are not settings of the file
  e = error_of([&] { Fixture().s.load({"--config", cfg}, env_of({})); });
  EXPECT_NE(e.find(":1: output: unknown"), std::string::npos) << e;
  e = error_of([&] { Fixture().s.load({"--config", (dir_ / "none.toml").string()}, env_of({})); });
  EXPECT_NE(e.find("none.toml"), std::string::npos) << e;
}

TEST_F(SettingsTest, EnvironmentErrorsNameTheVariableAndUnknownOnesAreIgnored) {
  std::string e = error_of([&] { Fixture().s.load({}, env_of({{"RVC_PITCH", "high"}})); });
  EXPECT_NE(e.find("RVC_PITCH: expected a number, got 'high'"), std::string::npos) << e;
  e = error_of([&] { Fixture().s.load({}, env_of({{"RVC_F0_METHOD", "crepe"}})); });
  EXPECT_NE(e.find("RVC_F0_METHOD: expected rmvpe | yin"), std::string::npos) << e;
  e = error_of([&] { Fixture().s.load({}, env_of({{"RVC_NO_NOISE", "maybe"}})); });
  EXPECT_NE(e.find("RVC_NO_NOISE"), std::string::npos) << e;
  Fixture f;
  EXPECT_TRUE(
      f.s.load({}, env_of({{"RVC_SOMETHING_ELSE", "x"}, {"RVC_OUTPUT", "x"}, {"RVC_PITCH", ""}})));
  EXPECT_EQ(f.o.output, "");  // CLI-only: no environment variable
  EXPECT_EQ(f.o.pitch, 0.0);  // empty = unset
}

TEST_F(SettingsTest, FlagErrorsAndHelp) {
  EXPECT_NE(error_of([&] {
              Fixture().s.load({"--colour", "x"}, env_of({}));
            }).find("'--colour'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Fixture().s.load({"--pitch"}, env_of({})); }).find("--pitch: expected"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              Fixture().s.load({"--seed", "-1"}, env_of({}));
            }).find("--seed"),
            std::string::npos);
  // A bad environment value does not matter when --help is asked for.
  Fixture f;
  EXPECT_FALSE(f.s.load({"--help"}, env_of({{"RVC_PITCH", "high"}})));
  const std::string u = f.s.usage();
  EXPECT_NE(u.find("-o, --output OUT"), std::string::npos) << u;
  EXPECT_EQ(Settings::env_name("index-rate"), "RVC_INDEX_RATE");
}

}  // namespace
}  // namespace rvc
