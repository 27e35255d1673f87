// rvc/formats/zip.h: a bounded, read-only zip reader (the container of torch.save files).
//
// Contract: supports stored and deflated entries, zip64 (EOCD64 locator/record and zip64 extra
// fields). Every offset and size read from the file is checked against the file size before use,
// so a hostile archive can never make the reader allocate more than the file can back (deflate
// output is capped by the declared size and by kMaxDeflateRatio x the compressed size). Errors are
// rvc::Error naming the archive and the entry/offset. A ZipArchive is immutable after open();
// read() may be called from several threads at once (it only uses positional reads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rvc::formats {

// A random-access byte source: a file (positional reads) or a memory buffer.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Copies [offset, offset + n) into dst; throws rvc::Error when the range is outside size().
  virtual void read_at(uint64_t offset, void* dst, size_t n) const = 0;
  // Name for messages (the path, or "<memory>").
  virtual const std::string& name() const = 0;
};

// Opens a regular file; throws rvc::Error for a missing file, a directory or an unreadable one.
std::shared_ptr<ByteSource> open_file_source(const std::string& path);
// Copies the bytes into an owned buffer.
std::shared_ptr<ByteSource> memory_source(const void* data, size_t n,
                                          std::string name = "<memory>");

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;  // start of the entry's bytes, resolved from the local header
  uint32_t crc32 = 0;
};

class ZipArchive {
 public:
  // Largest accepted ratio uncompressed/compressed for deflated entries (deflate's maximum).
  static constexpr uint64_t kMaxDeflateRatio = 1032;

  static ZipArchive open(const std::string& path);
  static ZipArchive open(std::shared_ptr<ByteSource> source);

  const std::string& name() const { return source_->name(); }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when absent.
  const ZipEntry* find(const std::string& name) const;
  // The whole uncompressed entry; throws for a missing entry, unsupported method, corrupt data.
  std::vector<uint8_t> read(const std::string& name) const;
  std::vector<uint8_t> read(const ZipEntry& entry) const;
  // Reads the entry into caller memory of exactly entry.uncompressed_size bytes.
  void read_into(const ZipEntry& entry, void* dst) const;

 private:
  explicit ZipArchive(std::shared_ptr<ByteSource> source) : source_(std::move(source)) {}
  void parse();

  std::shared_ptr<ByteSource> source_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace rvc::formats
