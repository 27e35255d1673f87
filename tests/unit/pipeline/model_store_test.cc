// Unit tests of rvc::pipeline::ModelStore on a temporary models directory populated with the
// fixture files of the first pipeline case (symlinked), plus name-safety and missing-asset errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/pipeline/model_store.h"
#include "support/cli.h"
#include "support/error_of.h"
#include "support/fixtures.h"

namespace rvc::pipeline {
namespace {

namespace fs = std::filesystem;

using test::error_of;

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto cases = test::cases_of_kind("pipeline");
    ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
    c_ = cases.front();
    const auto& files = c_.manifest.at("files");
    model_ = fs::absolute(c_.file(files.at("model").at("file")));
    hubert_ = fs::absolute(c_.file(files.at("hubert").at("file")));
    index_ = fs::absolute(c_.file(files.at("index").at("file")));
    root_ = test::make_temp_dir("rvc_model_store");
    fs::create_directories(root_ / "models");
    fs::create_directories(root_ / "assets" / "hubert");
    const fs::path m = root_ / "models";
    fs::create_symlink(model_, m / "alice.pth");
    fs::create_symlink(index_, m / "added_IVF30_Flat_nprobe_1_alice_v2.index");
    fs::create_symlink(model_, m / "bob.pth");
    fs::create_symlink(index_, m / "bob.index");
    fs::create_symlink(model_, m / "carol.pth");
    std::ofstream(m / "broken.pth") << "not a checkpoint";
  }
  void TearDown() override { fs::remove_all(root_); }

  ModelStore store() const { return ModelStore(root_ / "models", {root_ / "assets"}); }

  test::Case c_;
  fs::path root_, model_, hubert_, index_;
};

TEST_F(ModelStoreTest, ResolvesNamesAndTheirIndexes) {
  const ModelStore s = store();
  const ResolvedVoice a = s.resolve_name("alice");
  EXPECT_EQ(a.model, root_ / "models" / "alice.pth");
  EXPECT_EQ(a.index, root_ / "models" / "added_IVF30_Flat_nprobe_1_alice_v2.index");
  EXPECT_EQ(s.resolve("bob").index, root_ / "models" / "bob.index");
  EXPECT_TRUE(s.resolve("carol").index.empty());
  // An explicit path: the index is looked up next to it.
  const ResolvedVoice p = s.resolve((root_ / "models" / "bob.pth").string());
  EXPECT_EQ(p.name, "bob");
  EXPECT_EQ(p.index, root_ / "models" / "bob.index");
  const std::string missing = error_of([&] { s.resolve("dave"); });
  EXPECT_NE(missing.find("dave.pth"), std::string::npos) << missing;
  EXPECT_NE(missing.find("alice"), std::string::npos) << missing;  // lists what exists
  EXPECT_NE(error_of([&] { s.resolve("/no/such/x.pth"); }).find("not found"), std::string::npos);
}

TEST_F(ModelStoreTest, RefusesPathsAsNames) {
  const ModelStore s = store();
  const std::vector<std::string> bads = {"../alice", "a/b",  "/etc/passwd", "",
                                         ".hidden",  "a\\b", "..",          std::string("a\0b", 3)};
  for (const std::string& bad : bads) {
    EXPECT_THROW(s.resolve_name(bad), Error) << bad;
  }
  // Through resolve, a name with '/' is a path and must exist as a file.
  EXPECT_THROW(s.resolve("../models/alice"), Error);
}

TEST_F(ModelStoreTest, FindsAssetsInUpstreamLayoutOrModelsDir) {
  const ModelStore s = store();
  const std::string err = error_of([&] { s.find_asset(Asset::kHubert); });
  EXPECT_NE(err.find("hubert_base.pt"), std::string::npos) << err;
  EXPECT_NE(err.find("lj1995/VoiceConversionWebUI"), std::string::npos) << err;
  EXPECT_NE(err.find((root_ / "assets" / "hubert" / "hubert_base.pt").string()), std::string::npos)
      << err;
  fs::create_symlink(hubert_, root_ / "models" / "hubert_base.pt");
  EXPECT_EQ(s.find_asset(Asset::kHubert), root_ / "models" / "hubert_base.pt");
  fs::create_symlink(hubert_, root_ / "assets" / "hubert" / "hubert_base.pt");
  EXPECT_EQ(s.find_asset(Asset::kHubert), root_ / "assets" / "hubert" / "hubert_base.pt");
  EXPECT_EQ(s.find_asset(Asset::kHubert, hubert_.string()), hubert_);
  const std::string rm = error_of([&] { s.find_asset(Asset::kRmvpe, "/no/such/rmvpe.pt"); });
  EXPECT_NE(rm.find("rmvpe.pt"), std::string::npos) << rm;
  EXPECT_NE(rm.find("huggingface.co"), std::string::npos) << rm;
}

TEST_F(ModelStoreTest, PathsForALoadableVoice) {
  const ModelStore s = store();
  ModelStore::Overrides o;
  o.need_rmvpe = false;
  EXPECT_NE(error_of([&] { s.paths_for("alice", o); }).find("hubert_base.pt"), std::string::npos);
  fs::create_symlink(hubert_, root_ / "assets" / "hubert_base.pt");
  const VoiceModelPaths p = s.paths_for("alice", o);
  EXPECT_EQ(p.voice, (root_ / "models" / "alice.pth").string());
  EXPECT_EQ(p.index, (root_ / "models" / "added_IVF30_Flat_nprobe_1_alice_v2.index").string());
  EXPECT_EQ(p.hubert, (root_ / "assets" / "hubert_base.pt").string());
  EXPECT_TRUE(p.rmvpe.empty());
  o.use_index = false;
  EXPECT_TRUE(s.paths_for("alice", o).index.empty());
  EXPECT_NE(error_of([&] { s.paths_for("alice"); }).find("rmvpe.pt"), std::string::npos);
  const auto models =
      VoiceModels::load(s.paths_for("bob", ModelStore::Overrides{.need_rmvpe = false}));
  EXPECT_TRUE(models->has_index());
  EXPECT_FALSE(models->has_rmvpe());
}

TEST_F(ModelStoreTest, ListsVoicesWithTheirInfo) {
  const auto& p = c_.manifest.at("parameters");
  const auto list = store().list();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].name, "alice");
  EXPECT_EQ(list[1].name, "bob");
  EXPECT_EQ(list[2].name, "broken");
  EXPECT_EQ(list[3].name, "carol");
  for (const VoiceEntry& e : {list[0], list[1], list[3]}) {
    SCOPED_TRACE(e.name);
    EXPECT_TRUE(e.error.empty()) << e.error;
    EXPECT_EQ(e.version, p.at("version").get<std::string>());
    EXPECT_EQ(e.f0, p.at("if_f0").get<int>() == 1);
    EXPECT_EQ(e.sample_rate_hz, p.at("tgt_sr").get<int64_t>());
    EXPECT_GT(e.speakers, 0);
  }
  EXPECT_TRUE(list[0].has_index());
  EXPECT_TRUE(list[1].has_index());
  EXPECT_FALSE(list[3].has_index());
  EXPECT_FALSE(list[2].error.empty());
  EXPECT_TRUE(ModelStore(root_ / "nothing_here").list().empty());
}

TEST(ModelStoreEnv, DefaultDirHonoursEnvironment) {
  ::setenv("RVC_MODELS_DIR", "/tmp/some_models", 1);
  EXPECT_EQ(ModelStore::default_models_dir(), fs::path("/tmp/some_models"));
  ::unsetenv("RVC_MODELS_DIR");
  EXPECT_EQ(ModelStore::default_models_dir(), fs::path("models"));
}

}  // namespace
}  // namespace rvc::pipeline
