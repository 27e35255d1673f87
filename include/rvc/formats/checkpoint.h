// rvc/formats/checkpoint.h: PyTorch checkpoints (torch.save zip format, torch >= 1.6).
//
// load_checkpoint() opens the zip, finds `<folder>/data.pkl` (any folder name), unpickles it with
// the data-only VM (pickle.h) and resolves tensors: `torch._utils._rebuild_tensor_v2`,
// `_rebuild_parameter` and `_rebuild_parameter_with_state` become TorchTensor values whose
// storages are read once from `<folder>/data/<key>` and shared by every tensor naming the same key.
// Each tensor's size/stride/offset is checked against its storage. Nothing named in the pickle is
// executed. Legacy (pre-1.6) torch files are rejected with a clear message.
//
// A Checkpoint owns its value tree and storages; it is immutable once loaded and may be read from
// any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"
#include "rvc/formats/pickle.h"
#include "rvc/formats/zip.h"

namespace rvc::formats {

enum class DType {
  kFloat16,
  kBFloat16,
  kFloat32,
  kFloat64,
  kInt64,
  kInt32,
  kInt16,
  kInt8,
  kUInt8,
  kBool
};

const char* dtype_name(DType t);
size_t dtype_size(DType t);

// One storage: raw little-endian bytes of `numel` elements of `dtype`.
struct TorchStorage {
  std::string key;
  DType dtype = DType::kFloat32;
  int64_t numel = 0;
  std::vector<uint8_t> bytes;
};

struct TorchTensor {
  DType dtype = DType::kFloat32;
  Shape shape;
  std::vector<int64_t> strides;  // in elements
  int64_t storage_offset = 0;    // in elements
  std::shared_ptr<TorchStorage> storage;

  int64_t numel() const { return shape_numel(shape); }
};

// Converts any listed dtype to a contiguous float32 core Tensor, honouring strides and offset.
// fp16 and bf16 convert exactly. Int64 values beyond 2^24 round to nearest float.
Tensor to_float32(const TorchTensor& t);

class Checkpoint {
 public:
  Checkpoint() = default;
  PyRef root() const { return root_; }
  const std::string& path() const { return path_; }
  // The archive folder name ("archive", "hubert", ...).
  const std::string& folder() const { return folder_; }
  size_t num_storages() const { return num_storages_; }

 private:
  friend Checkpoint load_checkpoint_from(const std::shared_ptr<ByteSource>& src);
  std::shared_ptr<PyArena> arena_;
  PyRef root_ = nullptr;
  std::string path_, folder_;
  size_t num_storages_ = 0;
};

Checkpoint load_checkpoint(const std::string& path);
// Same from an arbitrary source (memory buffers for fuzzing and tests).
Checkpoint load_checkpoint_from(const std::shared_ptr<ByteSource>& src);

// Collects every tensor of a (possibly nested) state dict, keys joined with '.', converted to
// float32. Non-tensor leaves are skipped. Throws for a value that is not a dict.
TensorMap state_dict_to_tensors(PyRef dict);
// Number of tensors in a state dict (no conversion).
size_t count_tensors(PyRef dict);

}  // namespace rvc::formats
