// PyTorch zip checkpoints. ref: torch/serialization.py (_save, _load, persistent_load) and
// torch/_utils.py (_rebuild_tensor_v2, _rebuild_parameter).
#include "rvc/formats/checkpoint.h"

#include <bit>
#include <cstring>
#include <map>

#include "formats/pickle_value.h"
#include "rvc/core/error.h"

namespace rvc::formats {

static_assert(std::endian::native == std::endian::little, "rvc-rt assumes a little-endian host");

using A = PyValueAccess;

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt16:
      return "int16";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt16:
      return 2;
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 1;
}

namespace {

bool storage_dtype(const std::string& name, DType* out) {
  static const std::map<std::string, DType> kTypes = {
      {"HalfStorage", DType::kFloat16},  {"BFloat16Storage", DType::kBFloat16},
      {"FloatStorage", DType::kFloat32}, {"DoubleStorage", DType::kFloat64},
      {"LongStorage", DType::kInt64},    {"IntStorage", DType::kInt32},
      {"ShortStorage", DType::kInt16},   {"CharStorage", DType::kInt8},
      {"ByteStorage", DType::kUInt8},    {"BoolStorage", DType::kBool},
      {"UntypedStorage", DType::kUInt8}};
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return false;
  *out = it->second;
  return true;
}

// Loader state shared by the pickle hooks of one load.
struct TorchLoader {
  const ZipArchive* zip = nullptr;
  std::string folder;  // "" or "name/"
  std::map<std::string, std::shared_ptr<TorchStorage>> storages;

  PyValue* persistent_load(PyArena& arena, PyRef pid) {
    if (!pid->is(PyKind::kTuple) || pid->items().size() < 5 || !pid->items()[0]->is(PyKind::kStr) ||
        pid->items()[0]->as_str() != "storage") {
      fail("unsupported persistent id ", pid->repr(80));
    }
    PyRef type = pid->items()[1];
    DType dtype;
    if (!type->is(PyKind::kGlobal) || !storage_dtype(type->name(), &dtype)) {
      fail("unsupported storage type ", type->repr(80));
    }
    const std::string& key = pid->items()[2]->as_str();
    const int64_t numel = pid->items()[4]->as_int();
    if (numel < 0) fail("storage '", key, "': negative size ", numel);
    std::shared_ptr<TorchStorage>& s = storages[key];
    if (!s) {
      const std::string entry_name = folder + "data/" + key;
      const ZipEntry* e = zip->find(entry_name);
      if (!e) fail("storage '", key, "': no entry '", entry_name, "' in the archive");
      const uint64_t esize = dtype_size(dtype);
      if (static_cast<uint64_t>(numel) > e->uncompressed_size / esize) {
        fail(
            "storage '", key, "': ", numel, " ", dtype_name(dtype), " elements need ",
            static_cast<unsigned __int128>(numel) * esize > UINT64_MAX ? UINT64_MAX : numel * esize,
            " bytes but the entry holds ", e->uncompressed_size);
      }
      auto st = std::make_shared<TorchStorage>();
      st->key = key;
      st->dtype = dtype;
      st->numel = numel;
      st->bytes = zip->read(*e);
      s = std::move(st);
    } else if (s->dtype != dtype || s->numel != numel) {
      fail("storage '", key, "' is named with two different types or sizes");
    }
    PyValue* v = arena.make(PyKind::kStorage);
    A::storage(*v) = s;
    return v;
  }

  static std::vector<int64_t> int_tuple(PyRef v, const char* what) {
    if (!v->is_sequence()) fail("tensor ", what, ": expected a tuple, got ", kind_name(v->kind()));
    std::vector<int64_t> out;
    for (PyRef x : v->items()) out.push_back(x->as_int());
    return out;
  }

  static PyValue* rebuild_tensor(PyArena& arena, PyRef args) {
    const auto& a = args->items();
    if (a.size() < 4) fail("_rebuild_tensor_v2: expected at least 4 arguments, got ", a.size());
    if (!a[0]->is(PyKind::kStorage)) fail("_rebuild_tensor_v2: first argument is not a storage");
    auto t = std::make_shared<TorchTensor>();
    t->storage = a[0]->storage();
    t->dtype = t->storage->dtype;
    t->storage_offset = a[1]->as_int();
    t->shape = int_tuple(a[2], "size");
    t->strides = int_tuple(a[3], "stride");
    if (t->shape.size() != t->strides.size()) {
      fail("tensor of size ", shape_str(t->shape), " has ", t->strides.size(), " strides");
    }
    const int64_t numel = shape_numel(t->shape);  // checks negative dims and overflow
    if (t->storage_offset < 0) fail("tensor with negative storage offset");
    // Stride-0 (expanded) views are legal but must stay backed by the input: cap the expansion.
    if (numel > t->storage->numel * 16 + 1024) {
      fail("tensor of size ", shape_str(t->shape), " expands its storage '", t->storage->key,
           "' of ", t->storage->numel, " elements too far");
    }
    if (numel > 0) {
      // Largest element index reached, computed without overflow.
      unsigned __int128 last = static_cast<uint64_t>(t->storage_offset);
      for (size_t i = 0; i < t->shape.size(); ++i) {
        if (t->strides[i] < 0) fail("tensor with negative stride ", t->strides[i]);
        last +=
            static_cast<unsigned __int128>(t->shape[i] - 1) * static_cast<uint64_t>(t->strides[i]);
      }
      if (last >= static_cast<uint64_t>(t->storage->numel)) {
        fail("tensor of size ", shape_str(t->shape), ", stride ", shape_str(t->strides),
             ", offset ", t->storage_offset, " reaches past its storage '", t->storage->key,
             "' of ", t->storage->numel, " elements");
      }
    }
    PyValue* v = arena.make(PyKind::kTensor);
    A::tensor(*v) = std::move(t);
    return v;
  }

  static PyValue* reduce(PyArena& arena, PyRef global, PyRef args) {
    if (global->module() != "torch._utils") return nullptr;
    const std::string& n = global->name();
    if (n == "_rebuild_tensor_v2" || n == "_rebuild_tensor") return rebuild_tensor(arena, args);
    if (n == "_rebuild_parameter" || n == "_rebuild_parameter_with_state") {
      if (args->items().empty() || !args->items()[0]->is(PyKind::kTensor)) {
        fail(n, ": first argument is not a tensor");
      }
      return const_cast<PyValue*>(args->items()[0]);
    }
    return nullptr;
  }
};

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  return load_checkpoint_from(open_file_source(path));
}

Checkpoint load_checkpoint_from(const std::shared_ptr<ByteSource>& src) {
  const std::string path = src->name();
  uint8_t magic[4] = {0, 0, 0, 0};
  if (src->size() == 0) fail(path, ": empty file, expected a PyTorch checkpoint");
  src->read_at(0, magic, std::min<uint64_t>(src->size(), 4));
  if (magic[0] == 0x80 && magic[1] <= 5) {
    fail(path, ": legacy (pre-1.6) torch serialization is not supported; re-save with torch>=1.6");
  }
  if (!(magic[0] == 'P' && magic[1] == 'K')) {
    fail(path, ": not a PyTorch checkpoint (expected a zip archive, got another file type)");
  }
  ZipArchive zip = ZipArchive::open(src);
  TorchLoader loader;
  loader.zip = &zip;
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const auto slash = e.name.find('/');
    const bool top = slash == std::string::npos && e.name == "data.pkl";
    const bool nested = slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl";
    if (top || nested) {
      pkl = &e;
      loader.folder = top ? "" : e.name.substr(0, slash + 1);
      break;
    }
  }
  if (!pkl) fail(path, ": zip archive has no data.pkl: not a PyTorch checkpoint");
  if (const ZipEntry* bo = zip.find(loader.folder + "byteorder")) {
    if (bo->uncompressed_size > 16) fail(path, ": bad byteorder entry");
    const auto b = zip.read(*bo);
    if (std::string(b.begin(), b.end()) != "little") {
      fail(path, ": byteorder '", std::string(b.begin(), b.end()),
           "' is not supported (only little-endian checkpoints)");
    }
  }
  const std::vector<uint8_t> data = zip.read(*pkl);

  Checkpoint ck;
  ck.arena_ = std::make_shared<PyArena>();
  ck.path_ = path;
  ck.folder_ = loader.folder.empty() ? "" : loader.folder.substr(0, loader.folder.size() - 1);
  PickleHooks hooks;
  hooks.persistent_load = [&](PyArena& arena, PyRef pid, size_t) {
    return loader.persistent_load(arena, pid);
  };
  hooks.reduce = [&](PyArena& arena, PyRef global, PyRef args, size_t) {
    return TorchLoader::reduce(arena, global, args);
  };
  ck.root_ = unpickle(data.data(), data.size(), *ck.arena_, hooks, path + ":" + pkl->name);
  ck.num_storages_ = loader.storages.size();
  return ck;
}

namespace {

void collect(PyRef dict, const std::string& prefix, int depth, TensorMap* out, size_t* count) {
  if (depth > 64) fail("state dict nested deeper than 64 levels");
  if (!dict->is_dict()) fail("expected a state dict, got ", kind_name(dict->kind()));
  for (const auto& [k, v] : dict->entries()) {
    std::string key;
    if (k->is(PyKind::kStr)) {
      key = k->as_str();
    } else if (k->is(PyKind::kInt)) {
      key = std::to_string(k->as_int());
    } else {
      continue;
    }
    key = prefix.empty() ? key : prefix + "." + key;
    if (v->is(PyKind::kTensor)) {
      if (out) {
        PyRef tv = v;
        (*out)[key] =
            with_context("tensor '" + key + "'", [&] { return to_float32(tv->tensor()); });
      }
      if (count) ++*count;
    } else if (v->is_dict()) {
      collect(v, key, depth + 1, out, count);
    }
  }
}

}  // namespace

TensorMap state_dict_to_tensors(PyRef dict) {
  TensorMap out;
  collect(dict, "", 0, &out, nullptr);
  return out;
}

size_t count_tensors(PyRef dict) {
  size_t n = 0;
  collect(dict, "", 0, nullptr, &n);
  return n;
}

}  // namespace rvc::formats
