// The data-only pickle VM. ref: CPython Lib/pickle.py, _Unpickler (opcode semantics).
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "formats/pickle_value.h"
#include "rvc/core/error.h"

namespace rvc::formats {

using A = PyValueAccess;

class PickleVm {
 public:
  PickleVm(const uint8_t* data, size_t n, PyArena& arena, const PickleHooks& hooks,
           const std::string& name)
      : p_(data), n_(n), arena_(arena), hooks_(hooks), name_(name) {}

  PyRef run();

 private:
  [[noreturn]] void error(const std::string& msg) const {
    fail(name_, ": pickle offset ", op_pos_, ": ", msg);
  }
  size_t left() const { return n_ - pos_; }
  const uint8_t* take(size_t k) {
    if (k > left())
      error("truncated data (need " + std::to_string(k) + " bytes, " + std::to_string(left()) +
            " left)");
    const uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  uint64_t read_le(size_t k) {
    const uint8_t* q = take(k);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(q[i]) << (8 * i);
    return v;
  }
  std::string read_line() {
    const void* nl = std::memchr(p_ + pos_, '\n', left());
    if (!nl) error("truncated data (no end of line)");
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (p_ + pos_));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return s;
  }
  std::string read_counted(uint64_t len) {
    if (len > left()) {
      error("length " + std::to_string(len) + " is past the end of the data (" +
            std::to_string(left()) + " bytes left)");
    }
    return std::string(reinterpret_cast<const char*>(take(static_cast<size_t>(len))),
                       static_cast<size_t>(len));
  }

  size_t frame_base() const { return marks_.empty() ? 0 : marks_.back(); }
  PyValue* pop() {
    if (stack_.size() <= frame_base()) error("stack underflow");
    PyValue* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PyValue* top() {
    if (stack_.size() <= frame_base()) error("stack underflow");
    return stack_.back();
  }
  std::vector<PyValue*> pop_mark() {
    if (marks_.empty()) error("MARK expected but none is open");
    const size_t base = marks_.back();
    marks_.pop_back();
    std::vector<PyValue*> items(stack_.begin() + static_cast<std::ptrdiff_t>(base), stack_.end());
    stack_.resize(base);
    return items;
  }
  void push(PyValue* v) { stack_.push_back(v); }

  PyValue* make(PyKind k) { return arena_.make(k); }
  PyValue* make_int(int64_t v) {
    PyValue* x = make(PyKind::kInt);
    A::i(*x) = v;
    return x;
  }
  PyValue* make_str(PyKind k, std::string s) {
    PyValue* x = make(k);
    A::str(*x) = std::move(s);
    return x;
  }
  PyValue* make_seq(PyKind k, const std::vector<PyValue*>& xs) {
    PyValue* v = make(k);
    auto& items = A::items(*v);
    items.reserve(xs.size());
    for (PyValue* x : xs) {
      items.push_back(x);
      with_offset([&] { A::add_child_depth(*v, x); });
    }
    return v;
  }
  template <typename Fn>
  void with_offset(Fn&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      error(e.what());
    }
  }
  PyValue* make_long(const uint8_t* q, size_t k);
  PyValue* make_global(std::string module, std::string name) {
    PyValue* g = make(PyKind::kGlobal);
    A::module(*g) = std::move(module);
    A::name(*g) = std::move(name);
    return g;
  }
  PyValue* make_object(PyValue* cls, PyValue* args);
  PyValue* reduce(PyValue* callable, PyValue* args);
  void set_items(PyValue* target, const std::vector<PyValue*>& kv);
  void append_items(PyValue* target, const std::vector<PyValue*>& xs);
  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  PyValue* memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) error("bad memo reference " + std::to_string(idx));
    return it->second;
  }
  int64_t parse_decimal(const std::string& s) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || errno != 0 || (*end != '\0' && !(*end == 'L' && end[1] == '\0'))) {
      error("bad integer literal '" + s.substr(0, 40) + "'");
    }
    return v;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0, op_pos_ = 0;
  PyArena& arena_;
  const PickleHooks& hooks_;
  const std::string& name_;
  std::vector<PyValue*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyValue*> memo_;
};

PyValue* PickleVm::make_long(const uint8_t* q, size_t k) {
  if (k <= 8) {
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(q[i]) << (8 * i);
    if (k > 0 && k < 8 && (q[k - 1] & 0x80)) v |= ~uint64_t{0} << (8 * k);  // sign-extend
    return make_int(static_cast<int64_t>(v));
  }
  return make_str(PyKind::kBigInt, std::string(reinterpret_cast<const char*>(q), k));
}

PyValue* PickleVm::make_object(PyValue* cls, PyValue* args) {
  if (cls->is(PyKind::kGlobal) && cls->module() == "collections" && cls->name() == "OrderedDict") {
    PyValue* d = make(PyKind::kDict);
    // OrderedDict([(k, v), ...]): take pairs from a list argument when present.
    if (args && args->is(PyKind::kTuple) && args->items().size() == 1 &&
        args->items()[0]->is_sequence()) {
      for (PyRef pair : args->items()[0]->items()) {
        if (!pair->is_sequence() || pair->items().size() != 2) error("bad OrderedDict item");
        with_offset([&] { A::dict_set(*d, pair->items()[0], pair->items()[1]); });
      }
    }
    return d;
  }
  PyValue* o = make(PyKind::kObject);
  A::module(*o) = cls->module();
  A::name(*o) = cls->name();
  A::args(*o) = args;
  with_offset([&] { A::add_child_depth(*o, args); });
  return o;
}

PyValue* PickleVm::reduce(PyValue* callable, PyValue* args) {
  if (callable->is(PyKind::kGlobal)) {
    if (hooks_.reduce) {
      PyValue* v = nullptr;
      with_offset([&] { v = hooks_.reduce(arena_, callable, args, op_pos_); });
      if (v) return v;
    }
    // _codecs.encode(str, 'latin1') is how protocol 2 pickles bytes (numpy scalars use it).
    if (callable->module() == "_codecs" && callable->name() == "encode" &&
        args->is(PyKind::kTuple) && args->items().size() == 2 &&
        args->items()[0]->is(PyKind::kStr) && args->items()[1]->is(PyKind::kStr) &&
        args->items()[1]->as_str() == "latin1") {
      const std::string& s = args->items()[0]->as_str();
      std::string out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<uint8_t>(s[i]);
        if (c < 0x80) {
          out += static_cast<char>(c);
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
          out += static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(s[++i]) & 0x3F));
        } else {
          error("_codecs.encode: character outside latin-1");
        }
      }
      return make_str(PyKind::kBytes, std::move(out));
    }
  }
  return make_object(callable, args);
}

void PickleVm::set_items(PyValue* target, const std::vector<PyValue*>& kv) {
  if (kv.size() % 2) error("SETITEMS with an odd number of items");
  if (target->is_dict()) {
    for (size_t i = 0; i < kv.size(); i += 2) {
      with_offset([&] { A::dict_set(*target, kv[i], kv[i + 1]); });
    }
  } else if (target->is(PyKind::kObject)) {
    for (size_t i = 0; i < kv.size(); i += 2) {
      A::push_entry(*target, kv[i], kv[i + 1]);
      with_offset([&] {
        A::add_child_depth(*target, kv[i]);
        A::add_child_depth(*target, kv[i + 1]);
      });
    }
  } else {
    error(std::string("SETITEM on a ") + kind_name(target->kind()));
  }
}

void PickleVm::append_items(PyValue* target, const std::vector<PyValue*>& xs) {
  if (!target->is(PyKind::kList) && !target->is(PyKind::kObject) && !target->is(PyKind::kSet)) {
    error(std::string("APPEND to a ") + kind_name(target->kind()));
  }
  for (PyValue* x : xs) {
    A::items(*target).push_back(x);
    with_offset([&] { A::add_child_depth(*target, x); });
  }
}

PyRef PickleVm::run() {
  while (true) {
    op_pos_ = pos_;
    if (left() == 0) error("truncated data (no STOP opcode)");
    const uint8_t op = p_[pos_++];
    switch (op) {
      case 0x80: {  // PROTO
        const uint8_t proto = *take(1);
        if (proto > 5) error("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case 0x95: {  // FRAME: the frame length is only a read-ahead hint
        const uint64_t len = read_le(8);
        if (len > left()) error("frame length past the end of the data");
        break;
      }
      case '.': {  // STOP
        PyValue* v = pop();
        if (!marks_.empty()) error("STOP with an open MARK");
        return v;
      }
      case '(':
        marks_.push_back(stack_.size());
        break;
      case '0':
        pop();
        break;
      case '1':
        pop_mark();
        break;
      case '2':
        push(top());
        break;
      case 'N':
        push(make(PyKind::kNone));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE / NEWFALSE
        PyValue* b = make(PyKind::kBool);
        A::b(*b) = op == 0x88;
        push(b);
        break;
      }
      case 'J':
        push(make_int(static_cast<int32_t>(read_le(4))));
        break;
      case 'K':
        push(make_int(static_cast<int64_t>(read_le(1))));
        break;
      case 'M':
        push(make_int(static_cast<int64_t>(read_le(2))));
        break;
      case 'I': {
        const std::string s = read_line();
        if (s == "00" || s == "01") {
          PyValue* b = make(PyKind::kBool);
          A::b(*b) = s == "01";
          push(b);
        } else {
          push(make_int(parse_decimal(s)));
        }
        break;
      }
      case 'L':
        push(make_int(parse_decimal(read_line())));
        break;
      case 0x8a: {  // LONG1
        const size_t k = static_cast<size_t>(read_le(1));
        push(make_long(take(k), k));
        break;
      }
      case 0x8b: {  // LONG4
        const auto k = static_cast<int32_t>(read_le(4));
        if (k < 0) error("LONG4 with negative length");
        if (static_cast<size_t>(k) > left()) error("LONG4 length past the end of the data");
        push(make_long(take(static_cast<size_t>(k)), static_cast<size_t>(k)));
        break;
      }
      case 'F': {
        const std::string s = read_line();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') error("bad float literal");
        PyValue* f = make(PyKind::kFloat);
        A::f(*f) = d;
        push(f);
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const uint8_t* q = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | q[i];
        PyValue* f = make(PyKind::kFloat);
        std::memcpy(&A::f(*f), &bits, 8);
        push(f);
        break;
      }
      case 'X':
        push(make_str(PyKind::kStr, read_counted(read_le(4))));
        break;
      case 0x8c:
        push(make_str(PyKind::kStr, read_counted(read_le(1))));
        break;
      case 0x8d:
        push(make_str(PyKind::kStr, read_counted(read_le(8))));
        break;
      case 'V':
        push(make_str(PyKind::kStr, read_line()));
        break;
      case 'T':
        push(make_str(PyKind::kStr, read_counted(read_le(4))));
        break;
      case 'U':
        push(make_str(PyKind::kStr, read_counted(read_le(1))));
        break;
      case 'S': {  // STRING: a quoted repr; escapes other than \\ and \' are kept verbatim
        std::string s = read_line();
        if (s.size() < 2 || (s[0] != '\'' && s[0] != '"') || s.back() != s[0]) {
          error("bad STRING literal");
        }
        std::string out;
        for (size_t i = 1; i + 1 < s.size(); ++i) {
          if (s[i] == '\\' && i + 2 < s.size() && (s[i + 1] == '\\' || s[i + 1] == '\'')) ++i;
          out += s[i];
        }
        push(make_str(PyKind::kStr, std::move(out)));
        break;
      }
      case 'B':
        push(make_str(PyKind::kBytes, read_counted(read_le(4))));
        break;
      case 'C':
        push(make_str(PyKind::kBytes, read_counted(read_le(1))));
        break;
      case 0x8e:
      case 0x96:
        push(make_str(PyKind::kBytes, read_counted(read_le(8))));
        break;
      case 0x97:
        error("out-of-band buffers (NEXT_BUFFER) are not supported");
      case 0x98:
        top();
        break;  // READONLY_BUFFER
      case '}':
        push(make(PyKind::kDict));
        break;
      case ']':
        push(make(PyKind::kList));
        break;
      case ')':
        push(make(PyKind::kTuple));
        break;
      case 0x8f:
        push(make(PyKind::kSet));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t k = op - 0x84u;
        std::vector<PyValue*> xs(k);
        for (size_t i = k; i-- > 0;) xs[i] = pop();
        push(make_seq(PyKind::kTuple, xs));
        break;
      }
      case 't':
        push(make_seq(PyKind::kTuple, pop_mark()));
        break;
      case 'l':
        push(make_seq(PyKind::kList, pop_mark()));
        break;
      case 0x91:
        push(make_seq(PyKind::kFrozenSet, pop_mark()));
        break;
      case 'd': {
        PyValue* d = make(PyKind::kDict);
        set_items(d, pop_mark());
        push(d);
        break;
      }
      case 'a': {
        PyValue* x = pop();
        append_items(top(), {x});
        break;
      }
      case 'e': {
        std::vector<PyValue*> xs = pop_mark();
        append_items(top(), xs);
        break;
      }
      case 0x90: {  // ADDITEMS
        std::vector<PyValue*> xs = pop_mark();
        PyValue* s = top();
        if (!s->is(PyKind::kSet)) error("ADDITEMS to a non-set");
        append_items(s, xs);
        break;
      }
      case 's': {
        PyValue* v = pop();
        PyValue* k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {
        std::vector<PyValue*> kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'c': {  // GLOBAL
        std::string module = read_line();
        std::string name = read_line();
        push(make_global(std::move(module), std::move(name)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PyValue* name = pop();
        PyValue* module = pop();
        if (!name->is(PyKind::kStr) || !module->is(PyKind::kStr)) error("STACK_GLOBAL needs str");
        push(make_global(module->as_str(), name->as_str()));
        break;
      }
      case 'R': {
        PyValue* args = pop();
        PyValue* callable = pop();
        if (!args->is(PyKind::kTuple)) error("REDUCE arguments are not a tuple");
        push(reduce(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        PyValue* args = pop();
        PyValue* cls = pop();
        push(make_object(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        PyValue* kwargs = pop();
        PyValue* args = pop();
        PyValue* cls = pop();
        PyValue* o = make_object(cls, args);
        if (o->is(PyKind::kObject)) A::state(*o) = kwargs;
        push(o);
        break;
      }
      case 'o': {  // OBJ
        std::vector<PyValue*> xs = pop_mark();
        if (xs.empty()) error("OBJ without a class");
        PyValue* cls = xs.front();
        xs.erase(xs.begin());
        push(make_object(cls, make_seq(PyKind::kTuple, xs)));
        break;
      }
      case 'i': {  // INST
        std::string module = read_line();
        std::string name = read_line();
        PyValue* args = make_seq(PyKind::kTuple, pop_mark());
        push(make_object(make_global(std::move(module), std::move(name)), args));
        break;
      }
      case 'b': {  // BUILD: the state is recorded, never applied through code
        PyValue* state = pop();
        PyValue* target = top();
        if (target->is(PyKind::kObject) || target->is_dict() || target->is(PyKind::kTensor)) {
          A::state(*target) = state;
          with_offset([&] { A::add_child_depth(*target, state); });
        } else {
          error(std::string("BUILD on a ") + kind_name(target->kind()));
        }
        break;
      }
      case 'Q':
      case 'P': {  // BINPERSID / PERSID
        PyValue* pid = op == 'Q' ? pop() : make_str(PyKind::kStr, read_line());
        PyValue* v = nullptr;
        if (hooks_.persistent_load) {
          with_offset([&] { v = hooks_.persistent_load(arena_, pid, op_pos_); });
        }
        if (!v) {
          v = make(PyKind::kObject);
          A::name(*v) = "persistent_id";
          A::args(*v) = pid;
          with_offset([&] { A::add_child_depth(*v, pid); });
        }
        push(v);
        break;
      }
      case 'h':
        push(memo_get(read_le(1)));
        break;
      case 'j':
        push(memo_get(read_le(4)));
        break;
      case 'g':
        push(memo_get(static_cast<uint64_t>(parse_decimal(read_line()))));
        break;
      case 'q':
        memo_put(read_le(1));
        break;
      case 'r':
        memo_put(read_le(4));
        break;
      case 'p':
        memo_put(static_cast<uint64_t>(parse_decimal(read_line())));
        break;
      case 0x94:
        memo_put(memo_.size());
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        error("extension registry opcodes (EXT*) are not supported");
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", op);
        error(std::string("unknown opcode ") + buf);
      }
    }
  }
}

PyRef unpickle(const uint8_t* data, size_t n, PyArena& arena, const PickleHooks& hooks,
               const std::string& name) {
  PickleVm vm(data, n, arena, hooks, name);
  return vm.run();
}

}  // namespace rvc::formats
