// VoiceModels::from_parts (models built in memory, as the end-to-end bench does) converts exactly
// like VoiceModels::load on the same files, and refuses incomplete or mismatched parts.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/pipeline.h"
#include "support/error_of.h"
#include "support/fixtures.h"
#include "support/voice_fixture.h"

namespace rvc::pipeline {
namespace {

VoiceModelParts parts_of(const VoiceModelPaths& paths) {
  VoiceModelParts parts;
  parts.paths = paths;
  formats::VoiceModelInfo info =
      formats::read_voice_model(formats::load_checkpoint(paths.voice), true);
  parts.synthesizer = std::make_unique<models::Synthesizer>(
      models::SynthesizerConfig::from_voice_model(info), info.weights);
  info.weights.clear();
  parts.info = std::move(info);
  parts.hubert = std::make_unique<models::Hubert>(
      formats::read_hubert(formats::load_checkpoint(paths.hubert), true));
  if (!paths.index.empty()) parts.index.emplace(formats::FeatureIndex::load(paths.index));
  return parts;
}

TEST(PipelineParts, InMemoryModelsConvertLikeLoadedOnes) {
  nn::set_num_threads(1);
  const auto cases = test::cases_of_kind("pipeline");
  ASSERT_FALSE(cases.empty()) << "no fixture case of kind pipeline";
  const test::Case& c = cases.front();
  VoiceModelPaths paths = test::voice_paths(c);

  const auto loaded = VoiceModels::load(paths);
  const auto built = VoiceModels::from_parts(parts_of(paths));
  EXPECT_EQ(built->describe(), loaded->describe());
  EXPECT_EQ(built->has_index(), loaded->has_index());

  std::vector<float> audio(16000 * 3);
  for (size_t i = 0; i < audio.size(); ++i) {
    audio[i] =
        static_cast<float>(0.3 * std::sin(2 * M_PI * 150.0 * static_cast<double>(i) / 16000));
  }
  ConvertParams p;
  p.f0_method = F0Method::kYin;
  p.noise = false;
  const ConvertResult a = Pipeline(loaded).convert(audio, p);
  const ConvertResult b = Pipeline(built).convert(audio, p);
  EXPECT_EQ(a.pcm16, b.pcm16);

  // Incomplete parts name what is missing.
  VoiceModelParts no_synth = parts_of(paths);
  no_synth.synthesizer.reset();
  EXPECT_NE(
      test::error_of([&] { VoiceModels::from_parts(std::move(no_synth)); }).find("no synthesizer"),
      std::string::npos);
  VoiceModelParts bad_version = parts_of(paths);
  bad_version.info.version = "v3";
  EXPECT_NE(test::error_of([&] { VoiceModels::from_parts(std::move(bad_version)); }).find("v3"),
            std::string::npos);
}

}  // namespace
}  // namespace rvc::pipeline
