#include "rvc/formats/zip.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "rvc/core/error.h"

namespace rvc::formats {
namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }
  void read_at(uint64_t offset, void* dst, size_t n) const override {
    if (offset > size_ || n > size_ - offset) {
      fail(path_, ": read of ", n, " bytes at offset ", offset, " is past the end (", size_,
           " bytes)");
    }
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
      const ssize_t got = ::pread(fd_, out, chunk, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fail(path_, ": read failed at offset ", offset, ": ", std::strerror(errno));
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<size_t>(got);
    }
  }

 private:
  int fd_;
  uint64_t size_;
  std::string path_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(const void* data, size_t n, std::string name)
      : bytes_(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + n),
        name_(std::move(name)) {}
  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }
  void read_at(uint64_t offset, void* dst, size_t n) const override {
    if (offset > bytes_.size() || n > bytes_.size() - offset) {
      fail(name_, ": read of ", n, " bytes at offset ", offset, " is past the end (", bytes_.size(),
           " bytes)");
    }
    if (n > 0) std::memcpy(dst, bytes_.data() + offset, n);
  }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) {
  return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kEocd64Sig = 0x06064b50;
constexpr uint32_t kLocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;

// Applies a zip64 extended-information extra field to the fields that hold 0xFFFF(FFFF).
void apply_zip64_extra(const uint8_t* extra, size_t n, ZipEntry& e, bool need_usize,
                       bool need_csize, bool need_offset, const std::string& where) {
  size_t pos = 0;
  while (pos + 4 <= n) {
    const uint16_t id = le16(extra + pos);
    const uint16_t len = le16(extra + pos + 2);
    pos += 4;
    if (len > n - pos) fail(where, ": extra field runs past its end");
    if (id == 0x0001) {
      size_t q = pos;
      auto take = [&](uint64_t& field) {
        if (q + 8 > pos + len) fail(where, ": zip64 extra field too short");
        field = le64(extra + q);
        q += 8;
      };
      if (need_usize) take(e.uncompressed_size);
      if (need_csize) take(e.compressed_size);
      if (need_offset) take(e.local_header_offset);
      return;
    }
    pos += len;
  }
  if (need_usize || need_csize || need_offset) fail(where, ": zip64 sizes without a zip64 extra");
}

}  // namespace

std::shared_ptr<ByteSource> open_file_source(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail(path, ": cannot stat: ", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  return std::make_shared<FileSource>(fd, static_cast<uint64_t>(st.st_size), path);
}

std::shared_ptr<ByteSource> memory_source(const void* data, size_t n, std::string name) {
  return std::make_shared<MemorySource>(data, n, std::move(name));
}

ZipArchive ZipArchive::open(const std::string& path) { return open(open_file_source(path)); }

ZipArchive ZipArchive::open(std::shared_ptr<ByteSource> source) {
  ZipArchive z(std::move(source));
  z.parse();
  return z;
}

void ZipArchive::parse() {
  const std::string& nm = source_->name();
  const uint64_t fsize = source_->size();
  if (fsize < kEocdSize) fail(nm, ": not a zip archive (", fsize, " bytes, too small)");

  // The end-of-central-directory record is in the last 64 KiB + 22 bytes (comment <= 65535).
  const uint64_t tail_n = std::min<uint64_t>(fsize, 65535 + kEocdSize);
  std::vector<uint8_t> tail(tail_n);
  const uint64_t tail_off = fsize - tail_n;
  source_->read_at(tail_off, tail.data(), tail.size());
  int64_t found = -1;
  for (int64_t i = static_cast<int64_t>(tail_n - kEocdSize); i >= 0; --i) {
    const uint8_t* p = tail.data() + i;
    if (le32(p) == kEocdSig && static_cast<uint64_t>(i) + kEocdSize + le16(p + 20) <= tail_n) {
      found = i;
      break;
    }
  }
  if (found < 0) fail(nm, ": not a zip archive (no end-of-central-directory record)");
  const uint8_t* eocd = tail.data() + found;
  const uint64_t eocd_pos = tail_off + static_cast<uint64_t>(found);
  uint64_t n_entries = le16(eocd + 10);
  uint64_t cd_size = le32(eocd + 12);
  uint64_t cd_offset = le32(eocd + 16);
  if (le16(eocd + 4) != 0 || le16(eocd + 6) != 0) {
    if (le16(eocd + 4) != 0xFFFF) fail(nm, ": multi-disk zip archives are not supported");
  }
  uint64_t cd_limit = eocd_pos;
  if (n_entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd_pos < 20) fail(nm, ": zip64 end-of-central-directory locator missing");
    uint8_t loc[20];
    source_->read_at(eocd_pos - 20, loc, sizeof loc);
    if (le32(loc) != kLocatorSig) fail(nm, ": zip64 end-of-central-directory locator missing");
    const uint64_t rec_off = le64(loc + 8);
    if (rec_off > eocd_pos - 20 || eocd_pos - 20 - rec_off < 56) {
      fail(nm, ": zip64 end-of-central-directory record offset ", rec_off, " is invalid");
    }
    uint8_t rec[56];
    source_->read_at(rec_off, rec, sizeof rec);
    if (le32(rec) != kEocd64Sig) {
      fail(nm, ": no zip64 end-of-central-directory record at offset ", rec_off);
    }
    n_entries = le64(rec + 32);
    cd_size = le64(rec + 40);
    cd_offset = le64(rec + 48);
    cd_limit = rec_off;
  }
  if (cd_offset > cd_limit || cd_size > cd_limit - cd_offset) {
    fail(nm, ": central directory (offset ", cd_offset, ", ", cd_size,
         " bytes) lies outside the file");
  }
  if (n_entries > cd_size / kCentralSize) {
    fail(nm, ": ", n_entries, " entries cannot fit in a ", cd_size, "-byte central directory");
  }
  std::vector<uint8_t> cd(cd_size);
  source_->read_at(cd_offset, cd.data(), cd.size());
  entries_.reserve(n_entries);
  size_t pos = 0;
  for (uint64_t k = 0; k < n_entries; ++k) {
    const std::string where = nm + ": central directory entry " + std::to_string(k);
    if (cd.size() - pos < kCentralSize || le32(cd.data() + pos) != kCentralSig) {
      fail(where, ": bad signature at offset ", cd_offset + pos);
    }
    const uint8_t* h = cd.data() + pos;
    const size_t name_n = le16(h + 28), extra_n = le16(h + 30), comment_n = le16(h + 32);
    if (cd.size() - pos - kCentralSize < name_n + extra_n + comment_n) {
      fail(where, ": runs past the end of the central directory");
    }
    ZipEntry e;
    if (le16(h + 8) & 1) fail(where, ": encrypted entries are not supported");
    e.method = le16(h + 10);
    e.crc32 = le32(h + 16);
    e.compressed_size = le32(h + 20);
    e.uncompressed_size = le32(h + 24);
    e.local_header_offset = le32(h + 42);
    e.name.assign(reinterpret_cast<const char*>(h + kCentralSize), name_n);
    apply_zip64_extra(h + kCentralSize + name_n, extra_n, e, e.uncompressed_size == 0xFFFFFFFF,
                      e.compressed_size == 0xFFFFFFFF, e.local_header_offset == 0xFFFFFFFF,
                      where + " '" + e.name + "'");
    pos += kCentralSize + name_n + extra_n + comment_n;

    const std::string ewhere = nm + ": entry '" + e.name + "'";
    // The local header, then the data, must lie before the central directory.
    if (e.local_header_offset > cd_offset || cd_offset - e.local_header_offset < kLocalSize) {
      fail(ewhere, ": local header offset ", e.local_header_offset, " is outside the file data");
    }
    uint8_t lh[kLocalSize];
    source_->read_at(e.local_header_offset, lh, sizeof lh);
    if (le32(lh) != kLocalSig) {
      fail(ewhere, ": no local header at offset ", e.local_header_offset);
    }
    const uint64_t lname_n = le16(lh + 26), lextra_n = le16(lh + 28);
    const uint64_t data_off = e.local_header_offset + kLocalSize + lname_n + lextra_n;
    if (data_off > cd_offset) fail(ewhere, ": local header runs past the file data");
    if (lname_n != name_n) fail(ewhere, ": local header names a different file");
    std::string lname(name_n, '\0');
    source_->read_at(e.local_header_offset + kLocalSize, lname.data(), name_n);
    if (lname != e.name) fail(ewhere, ": local header names '", lname, "'");
    e.data_offset = data_off;
    if (e.compressed_size > cd_offset - data_off) {
      fail(ewhere, ": compressed size ", e.compressed_size, " at offset ", data_off,
           " runs past the file data");
    }
    if (e.method == 0) {
      if (e.compressed_size != e.uncompressed_size) {
        fail(ewhere, ": stored entry with compressed size ", e.compressed_size,
             " != uncompressed size ", e.uncompressed_size);
      }
    } else if (e.method == 8) {
      if (e.uncompressed_size / kMaxDeflateRatio > e.compressed_size) {
        fail(ewhere, ": declared size ", e.uncompressed_size, " is impossible for ",
             e.compressed_size, " deflated bytes");
      }
    }
    index_.emplace(e.name, entries_.size());
    entries_.push_back(std::move(e));
  }
}

const ZipEntry* ZipArchive::find(const std::string& entry_name) const {
  auto it = index_.find(entry_name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

std::vector<uint8_t> ZipArchive::read(const std::string& entry_name) const {
  const ZipEntry* e = find(entry_name);
  if (!e) fail(name(), ": no entry '", entry_name, "'");
  return read(*e);
}

std::vector<uint8_t> ZipArchive::read(const ZipEntry& entry) const {
  // Sizes of other methods were never bounded by parse(): refuse before allocating.
  if (entry.method != 0 && entry.method != 8) {
    fail(name(), ": entry '", entry.name, "': unsupported compression method ", entry.method);
  }
  std::vector<uint8_t> out(entry.uncompressed_size);
  read_into(entry, out.data());
  return out;
}

void ZipArchive::read_into(const ZipEntry& e, void* dst) const {
  const std::string where = name() + ": entry '" + e.name + "'";
  auto* out = static_cast<uint8_t*>(dst);
  if (e.method == 0) {
    source_->read_at(e.data_offset, out, e.uncompressed_size);
  } else if (e.method == 8) {
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(where, ": inflateInit failed");
    std::vector<uint8_t> in(std::min<uint64_t>(e.compressed_size, 1 << 18));
    uint64_t in_left = e.compressed_size, in_pos = e.data_offset, out_done = 0;
    int rc = Z_OK;
    try {
      while (rc != Z_STREAM_END) {
        if (zs.avail_in == 0 && in_left > 0) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(in_left, in.size()));
          source_->read_at(in_pos, in.data(), n);
          in_pos += n;
          in_left -= n;
          zs.next_in = in.data();
          zs.avail_in = static_cast<uInt>(n);
        }
        const uint64_t room = e.uncompressed_size - out_done;
        if (room == 0) {
          // Everything declared is out; only the end of the stream may follow.
          uint8_t scratch = 0;
          zs.next_out = &scratch;
          zs.avail_out = 1;
          rc = inflate(&zs, Z_NO_FLUSH);
          if (zs.avail_out == 0) {
            fail(where, ": inflates to more than its declared ", e.uncompressed_size, " bytes");
          }
        } else {
          const uInt chunk = static_cast<uInt>(std::min<uint64_t>(room, 1u << 30));
          zs.next_out = out + out_done;
          zs.avail_out = chunk;
          rc = inflate(&zs, Z_NO_FLUSH);
          out_done += chunk - zs.avail_out;
        }
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
          fail(where, ": deflate stream is truncated");
        }
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || (rc == Z_BUF_ERROR && zs.avail_in > 0)) {
          fail(where, ": corrupt deflate data");
        }
      }
    } catch (...) {
      inflateEnd(&zs);
      throw;
    }
    inflateEnd(&zs);
    if (out_done != e.uncompressed_size) {
      fail(where, ": inflates to ", out_done, " bytes, declared ", e.uncompressed_size);
    }
  } else {
    fail(where, ": unsupported compression method ", e.method);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t done = 0;
  while (done < e.uncompressed_size) {
    const uInt n = static_cast<uInt>(std::min<uint64_t>(e.uncompressed_size - done, 1u << 30));
    crc = crc32(crc, out + done, n);
    done += n;
  }
  if (static_cast<uint32_t>(crc) != e.crc32) fail(where, ": CRC-32 mismatch (corrupt data)");
}

}  // namespace rvc::formats
