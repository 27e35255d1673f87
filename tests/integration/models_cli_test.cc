// rvc-rt models: voices of a models directory (symlinks to fixture files) and the assets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/fixtures.h"

namespace rvc {
namespace {

namespace fs = std::filesystem;

using test::q;

class ModelsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cases = test::cases_of_kind("pipeline");
    ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
    c_ = cases.front();
    const auto& files = c_.manifest.at("files");
    dir_ = test::make_temp_dir("rvc_models_cli");
    fs::create_directories(dir_ / "models");
    const fs::path m = dir_ / "models";
    const fs::path model = fs::absolute(c_.file(files.at("model").at("file")));
    fs::create_symlink(model, m / "alice.pth");
    fs::create_symlink(fs::absolute(c_.file(files.at("index").at("file"))),
                       m / "added_IVF4_Flat_nprobe_1_alice_v2.index");
    fs::create_symlink(model, m / "bob.pth");
    std::ofstream(m / "broken.pth") << "not a checkpoint";
    hubert_ = fs::absolute(c_.file(files.at("hubert").at("file")));
    fs::create_symlink(hubert_, m / "hubert_base.pt");
  }
  void TearDown() override { fs::remove_all(dir_); }

  test::Case c_;
  fs::path dir_, hubert_;
};

TEST_F(ModelsCli, JsonListsVoicesIndexesAndAssets) {
  std::string out;
  ASSERT_EQ(test::run_command(
                q(test::rvc_rt_bin()) + " models --json --models-dir " + q(dir_ / "models"), &out),
            0)
      << out;
  const auto j = nlohmann::json::parse(out);
  const auto& params = c_.manifest.at("parameters");
  ASSERT_EQ(j.at("voices").size(), 3u) << out;
  const auto& alice = j["voices"][0];
  EXPECT_EQ(alice.at("name"), "alice");
  EXPECT_EQ(alice.at("version"), params.at("version"));
  EXPECT_EQ(alice.at("f0"), params.at("if_f0").get<int>() == 1);
  EXPECT_EQ(alice.at("sample_rate_hz"), params.at("tgt_sr"));
  EXPECT_GE(alice.at("speakers").get<int>(), 1);
  EXPECT_NE(alice.at("index").get<std::string>().find("alice_v2.index"), std::string::npos);
  EXPECT_EQ(j["voices"][1].at("name"), "bob");
  EXPECT_TRUE(j["voices"][1].at("index").is_null());
  EXPECT_EQ(j["voices"][2].at("name"), "broken");
  EXPECT_TRUE(j["voices"][2].contains("error"));
  EXPECT_TRUE(j.at("assets").at("hubert").at("found").get<bool>());
  EXPECT_EQ(j["assets"]["hubert"].at("path"), (dir_ / "models" / "hubert_base.pt").string());
  EXPECT_FALSE(j["assets"]["rmvpe"].at("found").get<bool>());
  EXPECT_NE(j["assets"]["rmvpe"].at("error").get<std::string>().find("rmvpe.pt"),
            std::string::npos);
}

TEST_F(ModelsCli, TextFromEnvironment) {
  std::string out;
  ASSERT_EQ(
      test::run_command(
          "RVC_MODELS_DIR=" + q(dir_ / "models") + " " + q(test::rvc_rt_bin()) + " models", &out),
      0)
      << out;
  EXPECT_NE(out.find("alice"), std::string::npos) << out;
  EXPECT_NE(out.find("index: none"), std::string::npos) << out;  // bob
  EXPECT_NE(out.find("unreadable"), std::string::npos) << out;   // broken
  EXPECT_NE(out.find("rmvpe.pt        missing"), std::string::npos) << out;
  // An empty or missing models directory is not an error.
  ASSERT_EQ(
      test::run_command(q(test::rvc_rt_bin()) + " models --models-dir " + q(dir_ / "none"), &out),
      0);
  EXPECT_NE(out.find("(none"), std::string::npos) << out;
  EXPECT_EQ(test::run_command(q(test::rvc_rt_bin()) + " models extra 2>&1", &out), 2);
}

}  // namespace
}  // namespace rvc
