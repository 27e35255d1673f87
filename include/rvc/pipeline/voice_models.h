// rvc/pipeline/voice_models.h: everything one voice conversion needs, loaded once.
//
// VoiceModels bundles the RVC voice (synthesizer + its info), the HuBERT/ContentVec feature
// extractor, optionally the RMVPE pitch model and optionally the faiss index with its
// reconstructed vectors (upstream big_npy). It is immutable after load() and meant to be shared
// (std::shared_ptr<const VoiceModels>) by any number of concurrent conversions.
//
// load() checks that the pieces fit together: HuBERT output width (final_dim for v1 models,
// embedding_dim for v2) equals the voice's phone width, and the index dimension equals it too,
// with messages naming both files.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "rvc/core/tensor.h"
#include "rvc/formats/faiss_index.h"
#include "rvc/formats/model_info.h"
#include "rvc/models/hubert.h"
#include "rvc/models/rmvpe.h"
#include "rvc/models/synthesizer.h"
#include "rvc/nn/backend.h"

namespace rvc::pipeline {

struct VoiceModelPaths {
  std::string voice;   // NAME.pth (required)
  std::string hubert;  // hubert_base.pt (required)
  std::string rmvpe;   // rmvpe.pt; empty = no RMVPE (then F0 must come from YIN or a curve)
  std::string index;   // .index; empty = no retrieval
};

// Already-built pieces for VoiceModels::from_parts (benchmarks, tools that make weights in memory).
struct VoiceModelParts {
  VoiceModelPaths paths;         // names only, for messages and describe(); nothing is read
  formats::VoiceModelInfo info;  // version, has_f0, sample_rate_hz, speakers (weights ignored)
  std::unique_ptr<models::Synthesizer> synthesizer;  // required
  std::unique_ptr<models::Hubert> hubert;            // required
  std::unique_ptr<models::Rmvpe> rmvpe;              // optional
  std::optional<formats::FeatureIndex> index;        // optional
};

class VoiceModels {
 public:
  // Loads and cross-checks every file. Throws rvc::Error naming the file at fault.
  static std::shared_ptr<const VoiceModels> load(const VoiceModelPaths& paths,
                                                 nn::Backend backend = nn::default_backend());

  // The same cross-checks as load() on pieces built in memory. Throws rvc::Error.
  static std::shared_ptr<const VoiceModels> from_parts(VoiceModelParts parts);

  const VoiceModelPaths& paths() const { return paths_; }
  // Voice hyper-parameters (version, f0, rate, speakers); weights are not kept here.
  const formats::VoiceModelInfo& info() const { return info_; }
  const models::Synthesizer& synthesizer() const { return *synth_; }
  const models::Hubert& hubert() const { return *hubert_; }
  bool has_rmvpe() const { return rmvpe_ != nullptr; }
  const models::Rmvpe* rmvpe() const { return rmvpe_.get(); }
  bool has_index() const { return index_.has_value(); }
  const formats::FeatureIndex* index() const { return index_ ? &*index_ : nullptr; }
  const Tensor& big_npy() const { return big_npy_; }  // [ntotal, dim]; empty without index

  int sample_rate_hz() const { return static_cast<int>(info_.sample_rate_hz); }
  bool v1() const { return info_.version == "v1"; }
  bool has_f0() const { return info_.has_f0; }
  // HuBERT call of Pipeline.vc: output_layer 9 + final_proj for v1, 12 without for v2.
  int hubert_output_layer() const { return v1() ? 9 : 12; }
  bool hubert_final_proj() const { return v1(); }
  // One line: "voice X (v2, f0, 40000 Hz, 4 speakers), hubert Y, rmvpe Z, index W".
  std::string describe() const;

 private:
  VoiceModels() = default;
  // The checks shared by load() and from_parts(); fills big_npy_.
  void check_and_finish();
  VoiceModelPaths paths_;
  formats::VoiceModelInfo info_;
  std::unique_ptr<models::Synthesizer> synth_;
  std::unique_ptr<models::Hubert> hubert_;
  std::unique_ptr<models::Rmvpe> rmvpe_;
  std::optional<formats::FeatureIndex> index_;
  Tensor big_npy_;
};

}  // namespace rvc::pipeline
