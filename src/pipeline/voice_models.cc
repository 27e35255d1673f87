// Loading and cross-checking the models of one voice conversion.
// ref: infer/modules/vc/modules.py VC.get_vc, infer/modules/vc/utils.py load_hubert,
// infer/modules/vc/pipeline.py Pipeline.pipeline (index + big_npy).
#include "rvc/pipeline/voice_models.h"

#include <sstream>
#include <utility>

#include "rvc/core/error.h"
#include "rvc/core/log.h"
#include "rvc/formats/checkpoint.h"

namespace rvc::pipeline {

std::shared_ptr<const VoiceModels> VoiceModels::load(const VoiceModelPaths& paths,
                                                     nn::Backend backend) {
  if (paths.voice.empty()) fail("voice model: no .pth file given");
  if (paths.hubert.empty()) fail("voice model: no HuBERT file (hubert_base.pt) given");
  std::shared_ptr<VoiceModels> m(new VoiceModels());
  m->paths_ = paths;

  with_context(paths.voice, [&] {
    const formats::Checkpoint ck = formats::load_checkpoint(paths.voice);
    formats::VoiceModelInfo info = formats::read_voice_model(ck, true);
    m->synth_ = std::make_unique<models::Synthesizer>(
        models::SynthesizerConfig::from_voice_model(info), info.weights, backend);
    info.weights.clear();  // the synthesizer holds its own (folded) copies
    m->info_ = std::move(info);
  });
  if (m->info_.version != "v1" && m->info_.version != "v2") {
    fail(paths.voice, ": version '", m->info_.version, "' (expected v1 or v2)");
  }

  with_context(paths.hubert, [&] {
    const formats::Checkpoint ck = formats::load_checkpoint(paths.hubert);
    m->hubert_ = std::make_unique<models::Hubert>(formats::read_hubert(ck, true), backend);
  });
  if (!paths.rmvpe.empty()) {
    with_context(paths.rmvpe, [&] {
      const formats::Checkpoint ck = formats::load_checkpoint(paths.rmvpe);
      m->rmvpe_ = std::make_unique<models::Rmvpe>(formats::read_rmvpe(ck, true));
    });
  }
  if (!paths.index.empty()) m->index_.emplace(formats::FeatureIndex::load(paths.index));
  m->check_and_finish();
  log_debug("loaded ", m->describe());
  return m;
}

std::shared_ptr<const VoiceModels> VoiceModels::from_parts(VoiceModelParts parts) {
  if (!parts.synthesizer) fail("voice model: no synthesizer given");
  if (!parts.hubert) fail("voice model: no HuBERT given");
  std::shared_ptr<VoiceModels> m(new VoiceModels());
  m->paths_ = std::move(parts.paths);
  m->info_ = std::move(parts.info);
  m->info_.weights.clear();
  m->synth_ = std::move(parts.synthesizer);
  m->hubert_ = std::move(parts.hubert);
  m->rmvpe_ = std::move(parts.rmvpe);
  m->index_ = std::move(parts.index);
  if (m->info_.version != "v1" && m->info_.version != "v2") {
    fail(m->paths_.voice, ": version '", m->info_.version, "' (expected v1 or v2)");
  }
  m->check_and_finish();
  return m;
}

void VoiceModels::check_and_finish() {
  const VoiceModelPaths& paths = paths_;
  const int64_t phone_dim = synth_->phone_dim();
  if (hubert_final_proj() && hubert_->hparams().final_dim == 0) {
    fail(paths.hubert, ": has no final_proj, which the v1 voice ", paths.voice, " needs");
  }
  const int64_t feat_dim = hubert_->output_dim(hubert_final_proj());
  if (feat_dim != phone_dim) {
    fail(paths.hubert, ": gives ", feat_dim, "-d features for a ", info_.version, " voice but ",
         paths.voice, " expects ", phone_dim, "-d");
  }
  if (index_) {
    if (index_->dim() != phone_dim) {
      fail(paths.index, ": index vectors are ", index_->dim(), "-d but ", paths.voice, " (",
           info_.version, ") uses ", phone_dim, "-d features");
    }
    big_npy_ = index_->reconstruct_all();
  }
}

std::string VoiceModels::describe() const {
  std::ostringstream os;
  os << "voice " << paths_.voice << " (" << info_.version << ", " << (info_.has_f0 ? "f0" : "no f0")
     << ", " << info_.sample_rate_hz << " Hz, " << synth_->speakers() << " speaker"
     << (synth_->speakers() == 1 ? "" : "s") << "), hubert " << paths_.hubert << ", rmvpe "
     << (rmvpe_ ? paths_.rmvpe : std::string("none")) << ", index "
     << (index_ ? index_->describe() : std::string("none"));
  return os.str();
}

}  // namespace rvc::pipeline
