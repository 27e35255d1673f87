// The shared voice settings: one registration, one conversion to library structs.
#include "settings.h"

#include <filesystem>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/model_info.h"
#include "rvc/nn/backend.h"
#include "rvc/pipeline/model_store.h"

namespace rvc::app {

void add_voice_settings(Settings& s, VoiceOptions* o) {
  s.add("models-dir", "DIR", "where voices (NAME.pth, NAME.index) live (default models)",
        &o->models_dir);
  s.add("model", "NAME|FILE", "RVC voice: NAME in the models dir, or a .pth file", &o->model);
  s.add("index", "FILE", "retrieval index (default: the voice's own, if any)", &o->index);
  s.add("hubert", "FILE", "hubert_base.pt (default: searched in assets/ and the models dir)",
        &o->hubert);
  s.add("rmvpe", "FILE", "rmvpe.pt (default: searched like --hubert)", &o->rmvpe);
  s.add("pitch", "N", "pitch shift in semitones, -48..48 (default 0)", &o->pitch).range(-48, 48);
  s.add("f0-method", "M", "pitch estimator: rmvpe (default) or yin", &o->f0_method)
      .choices({"rmvpe", "yin"});
  s.add("f0-file", "FILE", "upstream f0 file: 'seconds,Hz' rows replacing the pitch", &o->f0_file);
  s.add("index-rate", "R", "index feature blend, 0..1 (default 0.75; 0 = no index)", &o->index_rate)
      .range(0, 1);
  s.add("protect", "P", "protect voiceless consonants, 0..0.5 (default 0.33; 0.5 = off)",
        &o->protect)
      .range(0, 0.5);
  s.add("rms-mix", "R", "output loudness envelope mix, 0..1 (default 0.25; 1 = converted)",
        &o->rms_mix)
      .range(0, 1);
  s.add("filter-radius", "N", "median filter of yin pitch when >= 3 (default 3)", &o->filter_radius)
      .range(0, 64);
  s.add("resample-sr", "HZ", "output rate (default 0 = the model's rate)", &o->resample_sr)
      .range(0, 384000);
  s.add("speaker", "ID", "speaker id of multi-speaker voices (default 0)", &o->speaker)
      .range(0, 1 << 20);
  s.add("threads", "N", "compute threads (default 2)", &o->threads).range(1, 256);
  s.add("precision", "P",
        "f32 (default) or bf16: ~2x faster convs/matmuls on CPUs with AVX512-BF16, ~30 dB SNR",
        &o->precision)
      .choices({"f32", "bf16"});
  s.add("seed", "N", "synthesizer noise seed (default 0)", &o->seed);
  s.add_flag("no-noise", "no synthesizer noise (upstream outputs with zero noise draws)",
             &o->no_noise);
}

pipeline::ConvertParams voice_params(const VoiceOptions& o) {
  pipeline::ConvertParams p;
  p.sid = o.speaker;
  p.f0_up_key = o.pitch;
  p.f0_method = pipeline::parse_f0_method(o.f0_method);
  if (!o.f0_file.empty()) p.f0_overrides = pipeline::read_f0_file(o.f0_file);
  p.filter_radius = o.filter_radius;
  p.index_rate = o.index_rate;
  p.protect = o.protect;
  p.rms_mix_rate = o.rms_mix;
  p.resample_sr = o.resample_sr;
  p.noise = !o.no_noise;
  p.seed = o.seed;
  p.validate();
  return p;
}

std::shared_ptr<const pipeline::VoiceModels> load_voice(const VoiceOptions& o) {
  nn::set_num_threads(o.threads);
  nn::set_default_precision(
      nn::effective_precision(nn::parse_precision(o.precision.c_str(), "--precision")));
  const pipeline::ModelStore store(o.models_dir.empty() ? "models" : o.models_dir);
  pipeline::ModelStore::Overrides ov;
  ov.hubert = o.hubert;
  ov.rmvpe = o.rmvpe;
  ov.index = o.index;
  ov.use_index = o.index_rate > 0;
  ov.need_rmvpe = o.f0_method == "rmvpe";
  if (ov.need_rmvpe && o.rmvpe.empty()) {
    // A voice without F0 needs no pitch model: do not insist on rmvpe.pt for it.
    try {
      store.find_asset(pipeline::Asset::kRmvpe);
    } catch (const Error&) {
      const auto voice = store.resolve(o.model);
      const formats::Checkpoint ck = formats::load_checkpoint(voice.model.string());
      if (formats::read_voice_model(ck, false).has_f0) throw;
      ov.need_rmvpe = false;
    }
  }
  return pipeline::VoiceModels::load(store.paths_for(o.model, ov));
}

}  // namespace rvc::app
