// rvc/formats/model_info.h: typed views of the three checkpoint kinds rvc-rt runs.
//
// From a loaded Checkpoint: detect the kind, then extract hyper-parameters and float32 weights.
// Hyper-parameters come from the checkpoint itself (config list, fairseq cfg/args, tensor shapes),
// never from hard-coded sizes. Every extractor throws rvc::Error naming the checkpoint and the
// missing key / bad value. Results are plain values (no references into the Checkpoint).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rvc/core/tensor.h"
#include "rvc/formats/checkpoint.h"

namespace rvc::formats {

enum class ModelKind { kUnknown, kRvcVoice, kHubert, kRmvpe };

struct DetectedKind {
  ModelKind kind = ModelKind::kUnknown;
  std::string name;    // "rvc-voice", "hubert", "rmvpe", "unknown"
  std::string reason;  // why (or why not)
};
DetectedKind detect_kind(const Checkpoint& ck);

// The 18-value synthesizer config list. ref: infer/lib/infer_pack/models.py SynthesizerTrnMs*.
struct SynthConfig {
  int64_t spec_channels = 0, segment_size = 0, inter_channels = 0, hidden_channels = 0;
  int64_t filter_channels = 0, n_heads = 0, n_layers = 0, kernel_size = 0;
  double p_dropout = 0;
  std::string resblock;
  std::vector<int64_t> resblock_kernel_sizes;
  std::vector<std::vector<int64_t>> resblock_dilation_sizes;
  std::vector<int64_t> upsample_rates;
  int64_t upsample_initial_channel = 0;
  std::vector<int64_t> upsample_kernel_sizes;
  int64_t spk_embed_dim = 0, gin_channels = 0, sampling_rate = 0;
};

struct VoiceModelInfo {
  std::string version;  // "v1" | "v2"
  bool has_f0 = false;
  int64_t sample_rate_hz = 0;  // config[-1]
  std::string sr;              // the "sr" string ("40k"), may be empty
  int64_t speakers = 0;        // rows of emb_g.weight (overrides config[-3], as upstream)
  int64_t embedding_dim = 0;   // enc_p.emb_phone.weight shape[1]: 256 (v1) or 768 (v2)
  std::string info;            // the "info" string, may be empty
  SynthConfig config;          // with spk_embed_dim = speakers
  nlohmann::json config_json;  // the raw 18-value list as stored
  TensorMap weights;           // float32
};
// ref: infer/modules/vc/modules.py VC.get_vc
VoiceModelInfo read_voice_model(const Checkpoint& ck, bool with_weights = true);

struct ConvLayerSpec {
  int64_t channels = 0, kernel = 0, stride = 0;
  bool operator==(const ConvLayerSpec&) const = default;
};
// Parses fairseq's conv_feature_layers expression, e.g. "[(512,10,5)] + [(512,3,2)] * 4":
// list literals of int 3-tuples joined by + with optional * n. No evaluation of anything else.
std::vector<ConvLayerSpec> parse_conv_feature_layers(const std::string& expr);

struct HubertInfo {
  int64_t layers = 0, embedding_dim = 0, heads = 0, ffn_dim = 0;
  int64_t final_dim = 0;  // final_proj.weight rows (0 when absent)
  std::vector<ConvLayerSpec> conv_layers;
  std::string extractor_mode = "default";
  bool layer_norm_first = false;
  int64_t conv_pos = 128, conv_pos_groups = 16;
  bool normalize = false;     // task.normalize
  std::string config_source;  // "cfg.model" or "args"
  TensorMap weights;
};
// ref: fairseq/models/hubert/hubert.py HubertConfig, HubertModel
HubertInfo read_hubert(const Checkpoint& ck, bool with_weights = true);

struct RmvpeInfo {
  int64_t n_blocks = 0, en_de_layers = 0, inter_layers = 0, en_out_channels = 0;
  int64_t in_channels = 0, n_gru = 0, n_mels = 0, n_classes = 0;
  TensorMap weights;
};
// ref: infer/lib/rmvpe.py E2E, DeepUnet, BiGRU
RmvpeInfo read_rmvpe(const Checkpoint& ck, bool with_weights = true);

}  // namespace rvc::formats
