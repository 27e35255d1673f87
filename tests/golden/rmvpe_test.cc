// Golden: the RMVPE E2E network (hyper-parameters read from the weights) against every fixture
// case of kind "rmvpe": salience from the case's audio, then f0. Tolerances from the manifest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>

#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/formats/npy.h"
#include "rvc/models/rmvpe.h"
#include "support/fixtures.h"
#include "support/golden.h"

namespace rvc {
namespace {

using test::Case;

models::Rmvpe load_model(const Case& c) {
  const std::string file = c.manifest.at("files").at("rmvpe").at("file").get<std::string>();
  const formats::Checkpoint ck = formats::load_checkpoint(c.file(file).string());
  return models::Rmvpe(formats::read_rmvpe(ck));
}

TEST(Rmvpe, HyperParametersFromWeights) {
  for (const Case& c : test::cases_of_kind("rmvpe")) {
    SCOPED_TRACE(c.name);
    const models::Rmvpe model = load_model(c);
    const auto& args = c.manifest.at("parameters").at("E2E_args");
    const auto& hp = model.hparams();
    EXPECT_EQ(hp.n_blocks, args.at("n_blocks").get<int64_t>());
    EXPECT_EQ(hp.n_gru, args.at("n_gru").get<int64_t>());
    EXPECT_EQ(hp.en_de_layers, args.at("en_de_layers").get<int64_t>());
    EXPECT_EQ(hp.inter_layers, args.at("inter_layers").get<int64_t>());
    EXPECT_EQ(hp.en_out_channels, args.at("en_out_channels").get<int64_t>());
  }
}

// mel_basis and mel are checked in rmvpe_frontend_test, salience and f0 here; anything else a
// manifest lists would go unchecked, so it fails.
TEST(Rmvpe, EveryManifestOutputIsChecked) {
  for (const Case& c : test::cases_of_kind("rmvpe")) {
    for (const auto& [name, spec] : c.manifest.at("outputs").items()) {
      EXPECT_TRUE(name == "mel_basis" || name == "mel" || name == "salience" || name == "f0")
          << c.name << ": manifest output '" << name << "' is not checked by any test";
    }
  }
}

TEST(Rmvpe, SalienceAndF0MatchUpstream) {
  const auto cases = test::cases_of_kind("rmvpe");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind rmvpe under " << test::fixtures_dir();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const models::Rmvpe model = load_model(c);
    const Tensor audio = test::load_tensor(c, "inputs", "audio");
    const Tensor want_sal = test::load_tensor(c, "outputs", "salience");
    const Tensor want_f0 = test::load_tensor(c, "outputs", "f0");

    const Tensor sal = model.salience(model.mel(audio.data(), audio.numel()));
    ASSERT_EQ(sal.shape(), want_sal.shape());
    EXPECT_TRUE(test::all_close(c.name + "/salience", sal, want_sal,
                                test::tolerance_of(c.manifest, "salience")));

    const float thred = c.manifest.at("parameters").value("thred", 0.03f);
    const std::vector<double> f0 = model.infer_f0(audio.data(), audio.numel(), thred);
    EXPECT_TRUE(test::f0_close(c.name + "/f0", f0, want_f0, want_sal, thred,
                               test::tolerance_of(c.manifest, "f0")));
  }
}

}  // namespace
}  // namespace rvc
