// Test helper: builds zip archives, pickle byte strings and torch.save-like checkpoints in
// memory, so bad-input tests need no binary blobs. Header-only; used by the formats unit tests.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace rvc::test {

inline void put_le(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

struct ZipFile {
  std::string name, data;
  bool deflate = false;
};

// A minimal zip writer (no zip64). Offsets of local headers are recorded for corruption tests.
inline std::string make_zip(const std::vector<ZipFile>& files) {
  std::string out, cd;
  for (const ZipFile& f : files) {
    std::string payload = f.data;
    if (f.deflate) {
      z_stream zs{};
      deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      std::string buf(deflateBound(&zs, f.data.size()) + 16, '\0');
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(f.data.data()));
      zs.avail_in = static_cast<uInt>(f.data.size());
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, Z_FINISH);
      buf.resize(zs.total_out);
      deflateEnd(&zs);
      payload = buf;
    }
    const uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(f.data.data()), static_cast<uInt>(f.data.size())));
    const uint64_t off = out.size();
    put_le(out, 0x04034b50, 4);
    put_le(out, 20, 2);
    put_le(out, 0, 2);
    put_le(out, f.deflate ? 8 : 0, 2);
    put_le(out, 0, 4);
    put_le(out, crc, 4);
    put_le(out, payload.size(), 4);
    put_le(out, f.data.size(), 4);
    put_le(out, f.name.size(), 2);
    put_le(out, 0, 2);
    out += f.name + payload;
    put_le(cd, 0x02014b50, 4);
    put_le(cd, 20, 2);
    put_le(cd, 20, 2);
    put_le(cd, 0, 2);
    put_le(cd, f.deflate ? 8 : 0, 2);
    put_le(cd, 0, 4);
    put_le(cd, crc, 4);
    put_le(cd, payload.size(), 4);
    put_le(cd, f.data.size(), 4);
    put_le(cd, f.name.size(), 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 4);
    put_le(cd, off, 4);
    cd += f.name;
  }
  const uint64_t cd_off = out.size();
  out += cd;
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);
  put_le(out, files.size(), 2);
  put_le(out, files.size(), 2);
  put_le(out, cd.size(), 4);
  put_le(out, cd_off, 4);
  put_le(out, 0, 2);
  return out;
}

// Emits pickle opcodes (protocol 2 style, as torch.save writes).
class PickleWriter {
 public:
  PickleWriter& proto(int v = 2) { return op(0x80).byte(v); }
  PickleWriter& op(int c) {
    s_ += static_cast<char>(c);
    return *this;
  }
  PickleWriter& byte(int c) {
    s_ += static_cast<char>(c);
    return *this;
  }
  PickleWriter& raw(const std::string& b) {
    s_ += b;
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& none() { return op('N'); }
  PickleWriter& boolean(bool b) { return op(b ? 0x88 : 0x89); }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').byte(static_cast<int>(v));
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      put_le(s_, static_cast<uint32_t>(v), 4);
      return *this;
    }
    op(0x8a).byte(8);
    put_le(s_, static_cast<uint64_t>(v), 8);
    return *this;
  }
  PickleWriter& floating(double d) {
    op('G');
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int i = 7; i >= 0; --i) s_ += static_cast<char>((bits >> (8 * i)) & 0xFF);
    return *this;
  }
  PickleWriter& str(const std::string& v) {
    op('X');
    put_le(s_, v.size(), 4);
    s_ += v;
    return *this;
  }
  PickleWriter& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_tuple() { return op(')'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& empty_list() { return op(']'); }
  PickleWriter& setitems() { return op('u'); }
  PickleWriter& appends() { return op('e'); }
  PickleWriter& reduce() { return op('R'); }
  PickleWriter& build() { return op('b'); }
  PickleWriter& binput(int i) { return op('q').byte(i); }
  PickleWriter& binget(int i) { return op('h').byte(i); }
  PickleWriter& stop() { return op('.'); }
  // torch tensor: _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset,
  // shape, stride, False, OrderedDict())
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                       const std::vector<int64_t>& shape, const std::vector<int64_t>& stride,
                       int64_t offset = 0) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();  // the argument tuple
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
    tuple().op('Q');
    integer(offset);
    mark();
    for (int64_t d : shape) integer(d);
    tuple();
    mark();
    for (int64_t d : stride) integer(d);
    tuple();
    boolean(false).global("collections", "OrderedDict").empty_tuple().reduce();
    return tuple().reduce();
  }
  const std::string& bytes() const { return s_; }

 private:
  std::string s_;
};

inline std::vector<uint8_t> to_vec(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// A torch.save-like archive: folder/data.pkl, folder/byteorder, folder/data/<key> ...
inline std::string make_checkpoint(const std::string& pkl,
                                   const std::vector<std::pair<std::string, std::string>>& storages,
                                   const std::string& folder = "archive") {
  std::vector<ZipFile> files{{folder + "/data.pkl", pkl}, {folder + "/byteorder", "little"}};
  for (const auto& [k, v] : storages) files.push_back({folder + "/data/" + k, v});
  files.push_back({folder + "/version", "3\n"});
  return make_zip(files);
}

template <typename T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace rvc::test
