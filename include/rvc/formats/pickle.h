// rvc/formats/pickle.h: a data-only pickle VM (protocols 0-5) producing a PyValue tree.
//
// Security contract: nothing a pickle names is ever imported or executed. GLOBAL/STACK_GLOBAL
// produce inert Global values; REDUCE/NEWOBJ/BUILD on them produce inert Object values that
// record the class, the arguments and the state. Only a few torch callables get a data meaning,
// through the PersistentLoader hooks (see checkpoint.h); `collections.OrderedDict` becomes a dict.
//
// Robustness contract: every error (truncation, unknown opcode, stack underflow, bad memo
// reference, MARK mismatch, nesting deeper than kMaxDepth) is an rvc::Error naming the byte
// offset. Allocation is bounded by the input size (lengths are checked against the bytes left
// before anything is allocated). The VM is iterative. Values live in a PyArena and refer to each
// other by plain pointers, so shared and even cyclic references (legal in pickles) are fine and
// destruction is flat; every walker in this library is depth-bounded.
//
// Thread-safety: a finished tree is immutable and may be read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rvc::formats {

struct TorchTensor;  // checkpoint.h
struct TorchStorage;

class PyValue;
using PyRef = const PyValue*;

enum class PyKind {
  kNone,
  kBool,
  kInt,
  kBigInt,
  kFloat,
  kStr,
  kBytes,
  kList,
  kTuple,
  kDict,
  kSet,
  kFrozenSet,
  kGlobal,   // a class/function reference: module + name
  kObject,   // an instance of any other class: module/name, args, state, items, entries
  kStorage,  // a torch storage from a persistent id
  kTensor,   // a torch tensor (from _rebuild_tensor_v2 / _rebuild_parameter)
};

const char* kind_name(PyKind kind);

class PyValue {
 public:
  explicit PyValue(PyKind kind) : kind_(kind) {}

  PyKind kind() const { return kind_; }
  bool is(PyKind k) const { return kind_ == k; }
  bool is_none() const { return kind_ == PyKind::kNone; }
  bool is_dict() const { return kind_ == PyKind::kDict; }
  // list or tuple
  bool is_sequence() const { return kind_ == PyKind::kList || kind_ == PyKind::kTuple; }

  // Typed accessors: throw rvc::Error ("expected int, got str") on the wrong kind.
  bool as_bool() const;     // bool, or int 0/1
  int64_t as_int() const;   // int or bool
  double as_float() const;  // float or int
  const std::string& as_str() const;
  const std::string& as_bytes() const;      // bytes/bytearray; for kBigInt the little-endian bytes
  const std::vector<PyRef>& items() const;  // list, tuple, set, frozenset; Object list items
  const std::vector<std::pair<PyRef, PyRef>>& entries() const;  // dict; Object dict items
  const TorchTensor& tensor() const;
  const std::shared_ptr<TorchStorage>& storage() const;

  // Global / Object: the class ("module", "name").
  const std::string& module() const { return module_; }
  const std::string& name() const { return name_; }
  // Object: the reduce/newobj arguments (a tuple, or nullptr) and the BUILD state (or nullptr).
  PyRef args() const { return args_; }
  PyRef state() const { return state_; }

  // Dict (or Object dict items) lookup by string key; nullptr when absent or not a dict.
  PyRef find(const std::string& key) const;
  // Same, but throws rvc::Error naming the key when absent.
  PyRef at(const std::string& key) const;
  // Attribute of an Object whose state is a dict (argparse.Namespace): nullptr when absent.
  PyRef attr(const std::string& key) const;
  size_t size() const;  // items or entries count

  // Short, depth- and length-bounded repr for messages and `rvc-rt info`.
  std::string repr(size_t max_chars = 200) const;

 private:
  friend class PickleVm;
  friend struct PyValueAccess;
  friend class PyArena;
  PyKind kind_;
  int depth_ = 1;  // nesting depth when built (for the kMaxPickleDepth cap)
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;  // str, bytes, big-int bytes
  std::string module_, name_;
  std::vector<PyRef> items_;
  std::vector<std::pair<PyRef, PyRef>> entries_;
  std::unordered_map<std::string, size_t> index_;  // dict key encoding -> entries_ position
  PyRef args_ = nullptr;
  PyRef state_ = nullptr;
  std::shared_ptr<TorchTensor> tensor_;
  std::shared_ptr<TorchStorage> storage_;
};

// Owns every value of one unpickled tree.
class PyArena {
 public:
  PyValue* make(PyKind kind);
  size_t size() const { return values_.size(); }

 private:
  std::vector<std::unique_ptr<PyValue>> values_;
};

// Hooks that give data meaning to torch objects. Both may return nullptr to fall back to the
// generic inert behaviour.
struct PickleHooks {
  // BINPERSID / PERSID: the persistent id value -> the object it stands for.
  std::function<PyValue*(PyArena&, PyRef pid, size_t offset)> persistent_load;
  // REDUCE of a Global with an args tuple -> a value (e.g. a tensor), or nullptr.
  std::function<PyValue*(PyArena&, PyRef global, PyRef args, size_t offset)> reduce;
};

// Maximum container nesting (and walker recursion) depth.
constexpr int kMaxPickleDepth = 1000;

// Unpickles `data` into `arena`; returns the root. `name` is used in error messages.
PyRef unpickle(const uint8_t* data, size_t n, PyArena& arena, const PickleHooks& hooks = {},
               const std::string& name = "<pickle>");

}  // namespace rvc::formats
