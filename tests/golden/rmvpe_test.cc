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

namespace rvc {
namespace {

using test::Case;

Tensor load(const Case& c, const std::string& section, const std::string& key) {
  const std::string file = c.manifest.at(section).at(key).at("file").get<std::string>();
  return formats::read_npy(c.file(file).string()).to_tensor();
}

double tol(const Case& c, const std::string& key, const std::string& which, double fallback) {
  const auto& t = c.manifest.value("tolerances", nlohmann::json::object());
  if (!t.contains(key) || !t.at(key).contains(which)) return fallback;
  return t.at(key).at(which).get<double>();
}

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

TEST(Rmvpe, SalienceAndF0MatchUpstream) {
  const auto cases = test::cases_of_kind("rmvpe");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind rmvpe under " << test::fixtures_dir();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const models::Rmvpe model = load_model(c);
    const Tensor audio = load(c, "inputs", "audio");
    const Tensor want_sal = load(c, "outputs", "salience");
    const Tensor want_f0 = load(c, "outputs", "f0");

    const Tensor sal = model.salience(model.mel(audio.data(), audio.numel()));
    ASSERT_EQ(sal.shape(), want_sal.shape());
    const double s_atol = tol(c, "salience", "atol", 1e-4), s_rtol = tol(c, "salience", "rtol", 0);
    double max_diff = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < sal.numel(); ++i) {
      const double d = std::abs(static_cast<double>(sal[i]) - want_sal[i]);
      max_diff = std::max(max_diff, d);
      if (d > s_atol + s_rtol * std::abs(want_sal[i])) ++bad;
    }
    std::cout << c.name << ": salience max |diff| " << max_diff << "\n";
    EXPECT_EQ(bad, 0) << "max |diff| " << max_diff;

    const float thred = c.manifest.at("parameters").value("thred", 0.03f);
    const std::vector<double> f0 = model.infer_f0(audio.data(), audio.numel(), thred);
    ASSERT_EQ(static_cast<int64_t>(f0.size()), want_f0.numel());
    const double atol = tol(c, "f0", "atol", 0.05), rtol = tol(c, "f0", "rtol", 1e-5);
    const int64_t bins = want_sal.dim(1);
    int64_t bad_f0 = 0;
    for (int64_t t = 0; t < want_f0.numel(); ++t) {
      const float* row = want_sal.data() + t * bins;
      if (std::abs(*std::max_element(row, row + bins) - thred) < 1e-4f) continue;  // may flip
      const double d = std::abs(f0[static_cast<size_t>(t)] - want_f0[t]);
      if (d > atol + rtol * std::abs(want_f0[t]) && ++bad_f0 <= 5) {
        ADD_FAILURE() << "frame " << t << ": f0 " << f0[static_cast<size_t>(t)] << " want "
                      << want_f0[t];
      }
    }
    EXPECT_EQ(bad_f0, 0);
  }
}

}  // namespace
}  // namespace rvc
