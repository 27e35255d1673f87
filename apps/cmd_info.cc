// rvc-rt info FILE...: what each file is, detected from its content (never from its name).
//
// Kinds: rvc-voice, hubert, rmvpe (torch checkpoints), faiss-index, audio. With --json, one JSON
// object per file per line. Exit 0 when every file was read, 2 otherwise; each unreadable file
// prints "rvc-rt: error: <path>: <what is wrong>" on stderr and the rest go on.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "rvc/core/error.h"
#include "rvc/core/settings.h"
#include "rvc/formats/audio_file.h"
#include "rvc/formats/checkpoint.h"
#include "rvc/formats/faiss_index.h"
#include "rvc/formats/model_info.h"

namespace rvc::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace fmt = rvc::formats;

std::string read_magic(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("is a directory (expected a file)");
  if (!fs::exists(path, ec)) fail("no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open for reading");
  std::string magic(8, '\0');
  in.read(magic.data(), static_cast<std::streamsize>(magic.size()));
  magic.resize(static_cast<size_t>(in.gcount()));
  if (magic.empty()) fail("empty file");
  return magic;
}

bool looks_like_faiss(const std::string& magic) {
  // Every faiss index starts with a 4-character code such as "IwFl" or "IxF2".
  return magic.size() >= 4 && magic[0] == 'I' && (magic[1] == 'w' || magic[1] == 'x');
}

json describe_checkpoint(const std::string& path) {
  const fmt::Checkpoint ck = fmt::load_checkpoint(path);
  const fmt::DetectedKind kind = fmt::detect_kind(ck);
  json j;
  switch (kind.kind) {
    case fmt::ModelKind::kRvcVoice: {
      const fmt::VoiceModelInfo v = fmt::read_voice_model(ck, /*with_weights=*/false);
      j["kind"] = "rvc-voice";
      j["version"] = v.version;
      j["f0"] = v.has_f0;
      j["sample_rate"] = v.sample_rate_hz;
      j["sr"] = v.sr;
      j["speakers"] = v.speakers;
      j["embedding_dim"] = v.embedding_dim;
      j["info"] = v.info;
      j["config"] = v.config_json;
      j["upsample_rates"] = v.config.upsample_rates;
      j["hidden_channels"] = v.config.hidden_channels;
      break;
    }
    case fmt::ModelKind::kHubert: {
      const fmt::HubertInfo h = fmt::read_hubert(ck, /*with_weights=*/false);
      j["kind"] = "hubert";
      j["layers"] = h.layers;
      j["embedding_dim"] = h.embedding_dim;
      j["final_proj_dim"] = h.final_dim;
      j["heads"] = h.heads;
      j["ffn_dim"] = h.ffn_dim;
      json conv = json::array();
      for (const auto& c : h.conv_layers) conv.push_back({c.channels, c.kernel, c.stride});
      j["conv_feature_layers"] = conv;
      j["extractor_mode"] = h.extractor_mode;
      j["layer_norm_first"] = h.layer_norm_first;
      j["conv_pos"] = h.conv_pos;
      j["conv_pos_groups"] = h.conv_pos_groups;
      j["normalize"] = h.normalize;
      break;
    }
    case fmt::ModelKind::kRmvpe: {
      const fmt::RmvpeInfo r = fmt::read_rmvpe(ck, /*with_weights=*/false);
      j["kind"] = "rmvpe";
      j["n_blocks"] = r.n_blocks;
      j["en_de_layers"] = r.en_de_layers;
      j["inter_layers"] = r.inter_layers;
      j["en_out_channels"] = r.en_out_channels;
      j["in_channels"] = r.in_channels;
      j["n_gru"] = r.n_gru;
      j["n_mels"] = r.n_mels;
      j["n_classes"] = r.n_classes;
      break;
    }
    case fmt::ModelKind::kUnknown:
      fail("a PyTorch checkpoint, but not an RVC voice, HuBERT or RMVPE model (", kind.reason, ")");
  }
  j["tensors"] = fmt::count_tensors(ck.root());
  return j;
}

json describe_index(const std::string& path) {
  const fmt::FeatureIndex index = fmt::FeatureIndex::load(path);
  const fmt::IndexInfo& i = index.info();
  json j;
  j["kind"] = "faiss-index";
  j["type"] = i.type;
  j["dim"] = i.dim;
  j["ntotal"] = i.ntotal;
  j["nlist"] = i.nlist;
  j["nprobe"] = i.nprobe;
  j["metric"] = i.metric == fmt::IndexMetric::kL2 ? "L2" : "inner_product";
  return j;
}

json describe_audio(const std::string& path) {
  const fmt::AudioInfo a = fmt::probe_audio(path);
  json j;
  j["kind"] = "audio";
  j["sample_rate"] = a.sample_rate;
  j["channels"] = a.channels;
  j["frames"] = a.frames;
  j["duration_s"] = a.sample_rate > 0 ? static_cast<double>(a.frames) / a.sample_rate : 0.0;
  j["format"] = a.format;
  return j;
}

json describe(const std::string& path) {
  const std::string magic = read_magic(path);
  if (magic.rfind("PK", 0) == 0 || static_cast<unsigned char>(magic[0]) == 0x80) {
    return describe_checkpoint(path);  // torch.save zip (or a legacy pickle, refused inside)
  }
  if (looks_like_faiss(magic)) return describe_index(path);
  try {
    return describe_audio(path);
  } catch (const Error&) {
    fail(
        "not a file rvc-rt knows (expected an RVC .pth, hubert_base.pt, rmvpe.pt, a faiss "
        ".index or an audio file)");
  }
}

void print_human(const json& j) {
  const std::string kind = j["kind"];
  std::printf("%s: %s\n", j["path"].get<std::string>().c_str(), kind.c_str());
  for (const auto& [key, value] : j.items()) {
    if (key == "path" || key == "kind") continue;
    std::printf("  %-20s %s\n", key.c_str(),
                value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
}

int run_info(const std::vector<std::string>& args) {
  bool as_json = false;
  Settings p("info", "FILE...");
  p.add_flag("json", "one JSON object per file, one per line", &as_json).cli_only();
  if (!p.load(args, environment_without_config())) {
    std::fputs(usage_without_config(p).c_str(), stdout);
    return 0;
  }
  if (p.positional().empty()) fail("info: expected at least one FILE (see rvc-rt info --help)");
  int failed = 0;
  for (const std::string& path : p.positional()) {
    json j;
    try {
      j = describe(path);
    } catch (const Error& e) {
      // Loaders name the file themselves; add the path only where they did not.
      const std::string msg = e.what();
      if (msg.rfind(path + ":", 0) == 0) {
        std::fprintf(stderr, "rvc-rt: error: %s\n", msg.c_str());
      } else {
        std::fprintf(stderr, "rvc-rt: error: %s: %s\n", path.c_str(), msg.c_str());
      }
      ++failed;
      continue;
    }
    j["path"] = path;
    if (as_json) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      print_human(j);
    }
    std::fflush(stdout);
  }
  return failed ? 2 : 0;
}

const RegisterCommand kRegister("info", "describe model, index and audio files (--json)", run_info);

}  // namespace
}  // namespace rvc::app
