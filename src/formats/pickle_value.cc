// PyValue accessors, dict keys and repr (the data side of the pickle VM).
#include <cmath>
#include <cstring>
#include <sstream>

#include "formats/pickle_value.h"
#include "rvc/core/error.h"

namespace rvc::formats {

const char* kind_name(PyKind kind) {
  switch (kind) {
    case PyKind::kNone:
      return "None";
    case PyKind::kBool:
      return "bool";
    case PyKind::kInt:
      return "int";
    case PyKind::kBigInt:
      return "int (big)";
    case PyKind::kFloat:
      return "float";
    case PyKind::kStr:
      return "str";
    case PyKind::kBytes:
      return "bytes";
    case PyKind::kList:
      return "list";
    case PyKind::kTuple:
      return "tuple";
    case PyKind::kDict:
      return "dict";
    case PyKind::kSet:
      return "set";
    case PyKind::kFrozenSet:
      return "frozenset";
    case PyKind::kGlobal:
      return "global";
    case PyKind::kObject:
      return "object";
    case PyKind::kStorage:
      return "storage";
    case PyKind::kTensor:
      return "tensor";
  }
  return "?";
}

namespace {
[[noreturn]] void wrong_kind(const char* want, PyKind got) {
  fail("expected ", want, ", got ", kind_name(got));
}
}  // namespace

bool PyValue::as_bool() const {
  if (kind_ == PyKind::kBool) return bool_;
  if (kind_ == PyKind::kInt && (int_ == 0 || int_ == 1)) return int_ == 1;
  wrong_kind("bool", kind_);
}

int64_t PyValue::as_int() const {
  if (kind_ == PyKind::kInt) return int_;
  if (kind_ == PyKind::kBool) return bool_ ? 1 : 0;
  if (kind_ == PyKind::kBigInt) fail("integer does not fit in 64 bits");
  wrong_kind("int", kind_);
}

double PyValue::as_float() const {
  if (kind_ == PyKind::kFloat) return float_;
  if (kind_ == PyKind::kInt) return static_cast<double>(int_);
  wrong_kind("float", kind_);
}

const std::string& PyValue::as_str() const {
  if (kind_ != PyKind::kStr) wrong_kind("str", kind_);
  return str_;
}

const std::string& PyValue::as_bytes() const {
  if (kind_ != PyKind::kBytes && kind_ != PyKind::kBigInt) wrong_kind("bytes", kind_);
  return str_;
}

const std::vector<PyRef>& PyValue::items() const {
  switch (kind_) {
    case PyKind::kList:
    case PyKind::kTuple:
    case PyKind::kSet:
    case PyKind::kFrozenSet:
    case PyKind::kObject:
      return items_;
    default:
      wrong_kind("list or tuple", kind_);
  }
}

const std::vector<std::pair<PyRef, PyRef>>& PyValue::entries() const {
  if (kind_ != PyKind::kDict && kind_ != PyKind::kObject) wrong_kind("dict", kind_);
  return entries_;
}

const TorchTensor& PyValue::tensor() const {
  if (kind_ != PyKind::kTensor || !tensor_) wrong_kind("tensor", kind_);
  return *tensor_;
}

const std::shared_ptr<TorchStorage>& PyValue::storage() const {
  if (kind_ != PyKind::kStorage) wrong_kind("storage", kind_);
  return storage_;
}

size_t PyValue::size() const { return kind_ == PyKind::kDict ? entries_.size() : items_.size(); }

PyRef PyValue::find(const std::string& key) const {
  if (kind_ == PyKind::kDict) {
    std::string code = "s" + std::to_string(key.size()) + ":" + key;
    auto it = index_.find(code);
    return it == index_.end() ? nullptr : entries_[it->second].second;
  }
  if (kind_ == PyKind::kObject) {
    for (const auto& [k, v] : entries_) {
      if (k->kind_ == PyKind::kStr && k->str_ == key) return v;
    }
  }
  return nullptr;
}

PyRef PyValue::at(const std::string& key) const {
  if (kind_ != PyKind::kDict && kind_ != PyKind::kObject) {
    fail("cannot look up key '", key, "' in a ", kind_name(kind_));
  }
  PyRef v = find(key);
  if (!v) fail("missing key '", key, "'");
  return v;
}

PyRef PyValue::attr(const std::string& key) const {
  if (kind_ != PyKind::kObject || !state_) return nullptr;
  if (state_->kind_ == PyKind::kDict) return state_->find(key);
  // (None, slotstate) or (dict, slotstate) states
  if (state_->kind_ == PyKind::kTuple && state_->items_.size() == 2) {
    for (PyRef part : state_->items_) {
      if (part->kind_ == PyKind::kDict) {
        if (PyRef v = part->find(key)) return v;
      }
    }
  }
  return nullptr;
}

void PyValueAccess::add_child_depth(PyValue& v, PyRef child) {
  if (child && child->depth_ + 1 > v.depth_) {
    v.depth_ = child->depth_ + 1;
    if (v.depth_ > kMaxPickleDepth) fail("nesting deeper than ", kMaxPickleDepth, " levels");
  }
}

bool encode_dict_key(PyRef v, std::string& out, int depth) {
  if (depth > kMaxPickleDepth || out.size() > (1u << 16)) fail("dictionary key too complex");
  switch (v->kind()) {
    case PyKind::kNone:
      out += "N";
      return true;
    case PyKind::kBool:
      out += v->as_bool() ? "i1;" : "i0;";
      return true;
    case PyKind::kInt:
      out += "i" + std::to_string(v->as_int()) + ";";
      return true;
    case PyKind::kFloat: {
      const double d = v->as_float();
      if (std::nearbyint(d) == d && std::fabs(d) < 9.0e18) {
        out += "i" + std::to_string(static_cast<int64_t>(d)) + ";";
      } else {
        uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        out += "f" + std::to_string(bits) + ";";
      }
      return true;
    }
    case PyKind::kStr:
      out += "s" + std::to_string(v->as_str().size()) + ":" + v->as_str();
      return true;
    case PyKind::kBytes:
    case PyKind::kBigInt:
      out += (v->is(PyKind::kBytes) ? "y" : "I") + std::to_string(v->as_bytes().size()) + ":" +
             v->as_bytes();
      return true;
    case PyKind::kTuple:
      out += "t" + std::to_string(v->items().size()) + "(";
      for (PyRef x : v->items()) {
        if (!encode_dict_key(x, out, depth + 1)) return false;
      }
      out += ")";
      return true;
    case PyKind::kGlobal:
      out += "g" + v->module() + "\n" + v->name() + ";";
      return true;
    case PyKind::kList:
    case PyKind::kDict:
    case PyKind::kSet:
      return false;
    default: {
      std::ostringstream os;
      os << "p" << static_cast<const void*>(v) << ";";
      out += os.str();
      return true;
    }
  }
}

void PyValueAccess::dict_set(PyValue& dict, PyRef key, PyRef value) {
  std::string code;
  if (!encode_dict_key(key, code))
    fail("unhashable dictionary key of type ", kind_name(key->kind()));
  auto [it, inserted] = dict.index_.emplace(std::move(code), dict.entries_.size());
  if (inserted) {
    dict.entries_.emplace_back(key, value);
  } else {
    dict.entries_[it->second].second = value;
  }
  add_child_depth(dict, key);
  add_child_depth(dict, value);
}

PyValue* PyArena::make(PyKind kind) {
  values_.push_back(std::make_unique<PyValue>(kind));
  return values_.back().get();
}

namespace {

void repr_into(PyRef v, std::string& out, size_t max_chars, int depth) {
  if (out.size() > max_chars) return;
  if (depth > 16) {
    out += "...";
    return;
  }
  auto seq = [&](const char* open, const char* close, const std::vector<PyRef>& xs) {
    out += open;
    for (size_t i = 0; i < xs.size() && out.size() <= max_chars; ++i) {
      if (i) out += ", ";
      repr_into(xs[i], out, max_chars, depth + 1);
    }
    out += close;
  };
  switch (v->kind()) {
    case PyKind::kNone:
      out += "None";
      break;
    case PyKind::kBool:
      out += v->as_bool() ? "True" : "False";
      break;
    case PyKind::kInt:
      out += std::to_string(v->as_int());
      break;
    case PyKind::kBigInt:
      out += "<int of " + std::to_string(v->as_bytes().size()) + " bytes>";
      break;
    case PyKind::kFloat: {
      std::ostringstream os;
      os << v->as_float();
      out += os.str();
      break;
    }
    case PyKind::kStr:
      out += "'" + v->as_str().substr(0, max_chars) + "'";
      break;
    case PyKind::kBytes:
      out += "b<" + std::to_string(v->as_bytes().size()) + " bytes>";
      break;
    case PyKind::kList:
      seq("[", "]", v->items());
      break;
    case PyKind::kTuple:
      seq("(", v->items().size() == 1 ? ",)" : ")", v->items());
      break;
    case PyKind::kSet:
      seq("{", "}", v->items());
      break;
    case PyKind::kFrozenSet:
      seq("frozenset({", "})", v->items());
      break;
    case PyKind::kDict: {
      out += "{";
      const auto& es = v->entries();
      for (size_t i = 0; i < es.size() && out.size() <= max_chars; ++i) {
        if (i) out += ", ";
        repr_into(es[i].first, out, max_chars, depth + 1);
        out += ": ";
        repr_into(es[i].second, out, max_chars, depth + 1);
      }
      out += "}";
      break;
    }
    case PyKind::kGlobal:
      out += v->module() + "." + v->name();
      break;
    case PyKind::kObject:
      out += "<" + v->module() + "." + v->name() + " object>";
      break;
    case PyKind::kStorage:
      out += "<storage>";
      break;
    case PyKind::kTensor:
      out += "<tensor>";
      break;
  }
}

}  // namespace

std::string PyValue::repr(size_t max_chars) const {
  std::string out;
  repr_into(this, out, max_chars, 0);
  if (out.size() > max_chars) {
    out.resize(max_chars);
    out += "...";
  }
  return out;
}

}  // namespace rvc::formats
