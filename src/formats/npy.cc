#include "rvc/formats/npy.h"

#include <cstring>
#include <fstream>
#include <limits>

#include "rvc/core/error.h"
#include "rvc/core/file.h"

namespace rvc::formats {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

size_t dtype_size(const std::string& dtype) {
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<f8" || dtype == "<i8") return 8;
  if (dtype == "<i2") return 2;
  if (dtype == "|u1" || dtype == "|b1") return 1;
  return 0;
}

// Finds `'key':` in the header dict and returns the position right after the colon.
size_t find_key(const std::string& header, const std::string& key, const std::string& name) {
  for (const char q : {'\'', '"'}) {
    const std::string pat = std::string(1, q) + key + std::string(1, q);
    size_t p = header.find(pat);
    if (p == std::string::npos) continue;
    p += pat.size();
    while (p < header.size() && header[p] == ' ') ++p;
    if (p >= header.size() || header[p] != ':')
      fail(name, ": npy header: ':' expected after ", key);
    return p + 1;
  }
  fail(name, ": npy header: missing key '", key, "'");
}

size_t skip_ws(const std::string& s, size_t p) {
  while (p < s.size() && (s[p] == ' ' || s[p] == '\t')) ++p;
  return p;
}

std::string parse_descr(const std::string& h, const std::string& name) {
  size_t p = skip_ws(h, find_key(h, "descr", name));
  if (p >= h.size() || (h[p] != '\'' && h[p] != '"')) {
    fail(name,
         ": npy header: 'descr' must be a simple dtype string (structured arrays are "
         "not supported)");
  }
  const char q = h[p];
  const size_t end = h.find(q, p + 1);
  if (end == std::string::npos) fail(name, ": npy header: unterminated 'descr'");
  std::string d = h.substr(p + 1, end - p - 1);
  // Single-byte types may be written with '<' or '=' by some writers.
  if (d == "<u1" || d == "=u1" || d == "u1") d = "|u1";
  if (d == "<b1" || d == "=b1" || d == "b1") d = "|b1";
  if (d == "|O" || d == "O") fail(name, ": object arrays are not supported (descr '", d, "')");
  if (!d.empty() && d[0] == '>') fail(name, ": big-endian dtype '", d, "' is not supported");
  if (dtype_size(d) == 0) {
    fail(name, ": unsupported dtype '", d, "' (expected <f4, <f8, <i8, <i4, <i2, |u1 or |b1)");
  }
  return d;
}

bool parse_fortran(const std::string& h, const std::string& name) {
  const size_t p = skip_ws(h, find_key(h, "fortran_order", name));
  if (h.compare(p, 4, "True") == 0) return true;
  if (h.compare(p, 5, "False") == 0) return false;
  fail(name, ": npy header: 'fortran_order' must be True or False");
}

Shape parse_shape(const std::string& h, const std::string& name) {
  size_t p = skip_ws(h, find_key(h, "shape", name));
  if (p >= h.size() || h[p] != '(') fail(name, ": npy header: 'shape' must be a tuple");
  ++p;
  Shape shape;
  while (true) {
    p = skip_ws(h, p);
    if (p >= h.size()) fail(name, ": npy header: unterminated 'shape'");
    if (h[p] == ')') break;
    if (h[p] < '0' || h[p] > '9') fail(name, ": npy header: bad character in 'shape'");
    int64_t v = 0;
    while (p < h.size() && h[p] >= '0' && h[p] <= '9') {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        fail(name, ": npy header: dimension too large in 'shape'");
      }
      v = v * 10 + (h[p] - '0');
      ++p;
    }
    if (p < h.size() && h[p] == 'L') ++p;  // Python 2 long suffix
    shape.push_back(v);
    p = skip_ws(h, p);
    if (p < h.size() && h[p] == ',') ++p;
    if (shape.size() > 32) fail(name, ": npy header: more than 32 dimensions");
  }
  return shape;
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the host is little-endian (x86-64 / arm64)
  return v;
}

std::vector<uint8_t> serialise(const Shape& shape, const char* descr, const void* data,
                               size_t item) {
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // Header (magic + version + length field + dict + '\n') padded to a multiple of 64 bytes.
  size_t prefix = kMagicLen + 2 + 2;
  size_t total = prefix + dict.size() + 1;
  int major = 1;
  if (((total + 63) / 64) * 64 - prefix > 65535) {
    major = 2;
    prefix += 2;
    total += 2;
  }
  const size_t padded = ((total + 63) / 64) * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  const size_t hlen = dict.size();
  const size_t n = static_cast<size_t>(shape_numel(shape));
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::vector<uint8_t> out(prefix + hlen + n * item);
  std::memcpy(out.data(), kMagic, kMagicLen);
  out[6] = static_cast<uint8_t>(major);
  out[7] = 0;
  for (size_t i = 0; i < len_bytes; ++i)
    out[8 + i] = static_cast<uint8_t>((hlen >> (8 * i)) & 0xff);
  std::memcpy(out.data() + prefix, dict.data(), hlen);
  if (n > 0) std::memcpy(out.data() + prefix + hlen, data, n * item);
  return out;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) fail(path, ": write error");
}

}  // namespace

int64_t NpyArray::numel() const { return shape_numel(shape); }
size_t NpyArray::item_size() const { return dtype_size(dtype); }

Tensor NpyArray::to_tensor() const {
  Tensor t(shape);
  const int64_t n = numel();
  const uint8_t* p = data.data();
  float* o = t.data();
  if (dtype == "<f4") {
    if (n > 0) std::memcpy(o, p, static_cast<size_t>(n) * 4);
    return t;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == "<f4")
      o[i] = load_le<float>(p + 4 * i);
    else if (dtype == "<f8")
      o[i] = static_cast<float>(load_le<double>(p + 8 * i));
    else if (dtype == "<i8")
      o[i] = static_cast<float>(load_le<int64_t>(p + 8 * i));
    else if (dtype == "<i4")
      o[i] = static_cast<float>(load_le<int32_t>(p + 4 * i));
    else if (dtype == "<i2")
      o[i] = static_cast<float>(load_le<int16_t>(p + 2 * i));
    else if (dtype == "|u1")
      o[i] = static_cast<float>(p[i]);
    else if (dtype == "|b1")
      o[i] = p[i] ? 1.0f : 0.0f;
    else
      fail("npy: cannot convert dtype '", dtype, "' to float32");
  }
  return t;
}

std::vector<int64_t> NpyArray::to_int64() const {
  const int64_t n = numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  const uint8_t* p = data.data();
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == "<i8")
      out[i] = load_le<int64_t>(p + 8 * i);
    else if (dtype == "<i4")
      out[i] = load_le<int32_t>(p + 4 * i);
    else if (dtype == "<i2")
      out[i] = load_le<int16_t>(p + 2 * i);
    else if (dtype == "|u1")
      out[i] = p[i];
    else if (dtype == "|b1")
      out[i] = p[i] ? 1 : 0;
    else
      fail("npy: dtype '", dtype, "' is not an integer type (expected int64)");
  }
  return out;
}

// ref: numpy/lib/format.py (read_array_header_1_0 / _2_0)
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name) {
  if (size < kMagicLen + 4 || std::memcmp(bytes, kMagic, kMagicLen) != 0) {
    fail(name, ": not a .npy file (bad magic)");
  }
  const int major = bytes[6];
  size_t hlen = 0, off = 0;
  if (major == 1) {
    hlen = static_cast<size_t>(bytes[8]) | static_cast<size_t>(bytes[9]) << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) fail(name, ": truncated .npy header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(bytes[8 + i]) << (8 * i);
    off = 12;
  } else {
    fail(name, ": unsupported .npy version ", major, ".", static_cast<int>(bytes[7]),
         " (expected 1.0, 2.0 or 3.0)");
  }
  if (hlen > size - off) fail(name, ": .npy header length ", hlen, " exceeds file size ", size);
  const std::string header(reinterpret_cast<const char*>(bytes + off), hlen);
  NpyArray a;
  a.dtype = parse_descr(header, name);
  if (parse_fortran(header, name)) fail(name, ": fortran_order arrays are not supported");
  a.shape = parse_shape(header, name);
  const int64_t n = with_context(name, [&] { return shape_numel(a.shape); });
  const size_t item = dtype_size(a.dtype);
  const size_t avail = size - off - hlen;
  if (static_cast<uint64_t>(n) > avail / item) {
    fail(name, ": .npy shape ", shape_str(a.shape), " of ", a.dtype, " needs ", n, " elements but ",
         "only ", avail, " data bytes follow the header");
  }
  const size_t nbytes = static_cast<size_t>(n) * item;
  a.data.assign(bytes + off + hlen, bytes + off + hlen + nbytes);
  return a;
}

NpyArray read_npy(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path, "file");
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> npy_bytes_f32(const Shape& shape, const float* data) {
  return serialise(shape, "<f4", data, 4);
}
std::vector<uint8_t> npy_bytes_i64(const Shape& shape, const int64_t* data) {
  return serialise(shape, "<i8", data, 8);
}
void write_npy(const std::string& path, const Tensor& t) {
  write_bytes(path, npy_bytes_f32(t.shape(), t.data()));
}
void write_npy(const std::string& path, const Shape& shape, const int64_t* data) {
  write_bytes(path, npy_bytes_i64(shape, data));
}

}  // namespace rvc::formats
