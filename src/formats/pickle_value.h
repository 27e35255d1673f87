// Internal helpers shared by the pickle VM and the torch hooks (not a public header).
#pragma once

#include <string>

#include "rvc/formats/pickle.h"

namespace rvc::formats {

// Mutable access to a PyValue under construction (the VM and the torch hooks).
struct PyValueAccess {
  static int& depth(PyValue& v) { return v.depth_; }
  static bool& b(PyValue& v) { return v.bool_; }
  static int64_t& i(PyValue& v) { return v.int_; }
  static double& f(PyValue& v) { return v.float_; }
  static std::string& str(PyValue& v) { return v.str_; }
  static std::string& module(PyValue& v) { return v.module_; }
  static std::string& name(PyValue& v) { return v.name_; }
  static std::vector<PyRef>& items(PyValue& v) { return v.items_; }
  static PyRef& args(PyValue& v) { return v.args_; }
  static PyRef& state(PyValue& v) { return v.state_; }
  static std::shared_ptr<TorchTensor>& tensor(PyValue& v) { return v.tensor_; }
  static std::shared_ptr<TorchStorage>& storage(PyValue& v) { return v.storage_; }
  // Inserts or replaces a dict entry (Python semantics: first insertion position is kept).
  // Throws rvc::Error for an unhashable key (list, dict, set).
  static void dict_set(PyValue& dict, PyRef key, PyRef value);
  // Appends to entries without hashing (Object __setitem__ records).
  static void push_entry(PyValue& v, PyRef key, PyRef value) {
    v.entries_.emplace_back(key, value);
  }
  // Raises v's depth to cover a child; throws when past kMaxPickleDepth.
  static void add_child_depth(PyValue& v, PyRef child);
};

// Canonical hash-key encoding of a hashable value (equal Python keys -> equal strings for the
// data types; other objects by identity). Returns false for unhashable values.
bool encode_dict_key(PyRef v, std::string& out, int depth = 0);

}  // namespace rvc::formats
