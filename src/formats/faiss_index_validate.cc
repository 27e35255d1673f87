// Structural validation of serialised faiss indexes before faiss::read_index sees them.
// ref: faiss 1.7.3 faiss/impl/index_read.cpp (read_index_header, read_ivf_header,
// read_direct_map, read_InvertedLists, read_ArrayInvertedLists_sizes).
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "rvc/core/error.h"
#include "rvc/formats/faiss_index.h"

namespace rvc::formats {
namespace {

constexpr int kMaxDim = 1 << 20;

std::string fourcc_str(uint32_t h) {
  std::string s(4, '?');
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((h >> (8 * i)) & 0xff);
    s[i] = (c >= 32 && c < 127) ? c : '?';
  }
  return s;
}

constexpr uint32_t fourcc(const char (&s)[5]) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[3])) << 24;
}

class Walker {
 public:
  Walker(const uint8_t* data, size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(name_, ": faiss index at offset ", pos_, ": ", std::forward<Parts>(parts)...);
  }

  void need(uint64_t n, const char* what) const {
    if (n > left()) bad(what, " needs ", n, " bytes but only ", left(), " remain");
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += static_cast<size_t>(n);
  }
  // A vector of `item`-byte elements: uint64 count, then the elements. Returns the count.
  uint64_t vector(size_t item, const char* what) {
    const uint64_t n = get<uint64_t>(what);
    if (n > left() / item)
      bad(what, ": count ", n, " x ", item, " bytes exceeds the ", left(), " bytes remaining");
    return n;
  }
  const uint8_t* base() const { return data_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
};

struct Header {
  int dim = 0;
  int64_t ntotal = 0;
  int metric = 1;
};

Header read_header(Walker& w) {
  Header h;
  h.dim = w.get<int32_t>("d");
  if (h.dim <= 0 || h.dim > kMaxDim) w.bad("dimension ", h.dim, " out of range [1, ", kMaxDim, "]");
  h.ntotal = w.get<int64_t>("ntotal");
  if (h.ntotal < 0) w.bad("negative ntotal ", h.ntotal);
  w.get<int64_t>("dummy");
  w.get<int64_t>("dummy");
  const uint8_t trained = w.get<uint8_t>("is_trained");
  if (trained > 1) w.bad("is_trained byte ", int{trained}, " is not 0 or 1");
  h.metric = w.get<int32_t>("metric_type");
  if (h.metric != 0 && h.metric != 1) {
    w.bad("unsupported metric_type ", h.metric, " (expected 0 = inner product or 1 = L2)");
  }
  return h;
}

Header read_flat_body(Walker& w) {
  const Header h = read_header(w);
  const uint64_t n_floats = w.get<uint64_t>("flat codes size");
  const uint64_t row_bytes = static_cast<uint64_t>(h.dim) * 4;
  if (static_cast<uint64_t>(h.ntotal) > w.left() / row_bytes) {
    w.bad("ntotal ", h.ntotal, " x dim ", h.dim, " floats exceeds the ", w.left(),
          " bytes remaining");
  }
  if (n_floats != static_cast<uint64_t>(h.ntotal) * static_cast<uint64_t>(h.dim)) {
    w.bad("flat codes hold ", n_floats, " floats, expected ntotal*dim = ",
          static_cast<uint64_t>(h.ntotal) * static_cast<uint64_t>(h.dim));
  }
  w.skip(n_floats * 4, "flat vectors");
  return h;
}

bool is_flat(uint32_t h) {
  return h == fourcc("IxF2") || h == fourcc("IxFI") || h == fourcc("IxFl");
}

std::string flat_type(uint32_t h) {
  if (h == fourcc("IxF2")) return "IndexFlatL2";
  if (h == fourcc("IxFI")) return "IndexFlatIP";
  return "IndexFlat";
}

// Direct-map entries encode (list << 32 | offset); faiss dereferences them unchecked.
void check_lo(Walker& w, int64_t lo, const std::vector<uint64_t>& sizes) {
  if (lo == -1) return;
  const uint64_t list = static_cast<uint64_t>(lo) >> 32;
  const uint64_t offset = static_cast<uint64_t>(lo) & 0xffffffffu;
  if (lo < 0 || list >= sizes.size() || offset >= sizes[list]) {
    w.bad("direct map entry ", lo, " points outside the inverted lists");
  }
}

IndexInfo read_ivf_flat(Walker& w) {
  IndexInfo info;
  info.fourcc = "IwFl";
  info.type = "IndexIVFFlat";
  const Header h = read_header(w);
  info.dim = h.dim;
  info.ntotal = h.ntotal;
  info.metric = static_cast<IndexMetric>(h.metric);
  const uint64_t nlist = w.get<uint64_t>("nlist");
  const uint64_t nprobe = w.get<uint64_t>("nprobe");
  if (nlist == 0) w.bad("IVF index with nlist = 0");
  const uint32_t qh = w.get<uint32_t>("quantizer fourcc");
  if (!is_flat(qh)) {
    w.bad("unsupported quantizer type '", fourcc_str(qh), "' (expected a flat quantizer)");
  }
  const Header q = read_flat_body(w);
  if (q.dim != h.dim) w.bad("quantizer dimension ", q.dim, " differs from index dimension ", h.dim);
  if (static_cast<uint64_t>(q.ntotal) != nlist) {
    w.bad("quantizer holds ", q.ntotal, " centroids but nlist is ", nlist);
  }
  // nlist is now bounded by the file size (the quantizer stores nlist * dim floats).
  info.nlist = static_cast<int64_t>(nlist);
  info.nprobe = static_cast<int64_t>(std::min<uint64_t>(nprobe, nlist));

  const uint8_t dm_type = w.get<uint8_t>("direct map type");
  if (dm_type > 2) w.bad("direct map type ", int{dm_type}, " is not 0, 1 or 2");
  const size_t dm_array_pos = w.pos();
  const uint64_t dm_array_n = w.vector(8, "direct map array");
  w.skip(dm_array_n * 8, "direct map array");
  size_t dm_hash_pos = 0;
  uint64_t dm_hash_n = 0;
  if (dm_type == 2) {
    dm_hash_pos = w.pos();
    dm_hash_n = w.vector(16, "direct map hashtable");
    w.skip(dm_hash_n * 16, "direct map hashtable");
  }

  const uint32_t ih = w.get<uint32_t>("inverted lists fourcc");
  if (ih == fourcc("il00")) w.bad("the inverted lists are not stored in the file");
  if (ih != fourcc("ilar")) {
    w.bad("unsupported inverted lists type '", fourcc_str(ih), "' (expected 'ilar')");
  }
  const uint64_t il_nlist = w.get<uint64_t>("invlists nlist");
  if (il_nlist != nlist) w.bad("inverted lists count ", il_nlist, " differs from nlist ", nlist);
  const uint64_t code_size = w.get<uint64_t>("code_size");
  if (code_size != static_cast<uint64_t>(h.dim) * 4) {
    w.bad("code_size ", code_size, " differs from dim*4 = ", static_cast<uint64_t>(h.dim) * 4);
  }
  std::vector<uint64_t> sizes(static_cast<size_t>(nlist), 0);
  const uint32_t lt = w.get<uint32_t>("list_type");
  if (lt == fourcc("full")) {
    const uint64_t n = w.vector(8, "list sizes");
    if (n != nlist) w.bad("list sizes count ", n, " differs from nlist ", nlist);
    for (auto& s : sizes) s = w.get<uint64_t>("list size");
  } else if (lt == fourcc("sprs")) {
    const uint64_t n = w.vector(8, "sparse list sizes");
    if (n % 2 != 0) w.bad("sparse list sizes count ", n, " is odd");
    for (uint64_t j = 0; j < n; j += 2) {
      const uint64_t list = w.get<uint64_t>("sparse list number");
      const uint64_t s = w.get<uint64_t>("sparse list size");
      if (list >= nlist) w.bad("sparse list number ", list, " >= nlist ", nlist);
      sizes[static_cast<size_t>(list)] = s;
    }
  } else {
    w.bad("unsupported list_type '", fourcc_str(lt), "' (expected 'full' or 'sprs')");
  }
  uint64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uint64_t n = sizes[i];
    if (n == 0) continue;
    if (n > w.left() / (code_size + 8)) {
      w.bad("inverted list ", i, " claims ", n, " entries of ", code_size + 8, " bytes but only ",
            w.left(), " bytes remain");
    }
    w.skip(n * code_size, "inverted list codes");
    for (uint64_t j = 0; j < n; ++j) {
      const int64_t id = w.get<int64_t>("inverted list id");
      if (id < 0 || id >= h.ntotal) w.bad("id ", id, " out of range [0, ", h.ntotal, ")");
    }
    total += n;
  }
  if (total != static_cast<uint64_t>(h.ntotal)) {
    w.bad("inverted lists hold ", total, " entries but ntotal is ", h.ntotal);
  }
  // Now that the list sizes are known, check the direct map entries faiss would dereference.
  const uint8_t* base = w.base();
  for (uint64_t i = 0; i < dm_array_n; ++i) {
    int64_t lo;
    std::memcpy(&lo, base + dm_array_pos + 8 + 8 * i, 8);
    check_lo(w, lo, sizes);
  }
  for (uint64_t i = 0; i < dm_hash_n; ++i) {
    int64_t lo;
    std::memcpy(&lo, base + dm_hash_pos + 8 + 16 * i + 8, 8);
    check_lo(w, lo, sizes);
  }
  return info;
}

}  // namespace

IndexInfo validate_faiss_index(const uint8_t* data, size_t size, const std::string& name) {
  Walker w(data, size, name);
  if (size < 4) w.bad("file too short for an index type (", size, " bytes)");
  const uint32_t h = w.get<uint32_t>("fourcc");
  if (h == fourcc("IwFl")) return read_ivf_flat(w);
  if (is_flat(h)) {
    const Header fh = read_flat_body(w);
    IndexInfo info;
    info.fourcc = fourcc_str(h);
    info.type = flat_type(h);
    info.dim = fh.dim;
    info.ntotal = fh.ntotal;
    info.metric = static_cast<IndexMetric>(fh.metric);
    return info;
  }
  fail(name, ": unsupported index type '", fourcc_str(h), "' (expected IVF Flat or Flat)");
}

}  // namespace rvc::formats
