// ZipArchive: round trips (stored, deflated, zip64) and every kind of damaged archive.
#include "rvc/formats/zip.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rvc/core/error.h"
#include "unit/formats/torch_writer.h"

namespace rvc::formats {
namespace {

using test::make_zip;
using test::put_le;

ZipArchive open_mem(const std::string& bytes) {
  return ZipArchive::open(memory_source(bytes.data(), bytes.size(), "test.zip"));
}

std::string text(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// Layout of a one-file stored archive from make_zip.
struct OneFile {
  std::string name = "a/data.pkl", data = "hello world";
  std::string zip = make_zip({{name, data}});
  size_t cd() const { return 30 + name.size() + data.size(); }
  void set32(size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) zip[off + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  }
};

TEST(Zip, StoredAndDeflatedRoundTrip) {
  std::string big(100000, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  const std::string z = make_zip({{"arch/data.pkl", "abc"},
                                  {"arch/data/0", big, true},
                                  {"arch/empty", ""},
                                  {"arch/empty_deflated", "", true}});
  ZipArchive a = open_mem(z);
  ASSERT_EQ(a.entries().size(), 4u);
  EXPECT_EQ(a.entries()[1].method, 8);
  EXPECT_EQ(text(a.read("arch/data.pkl")), "abc");
  EXPECT_EQ(text(a.read("arch/data/0")), big);
  EXPECT_EQ(text(a.read("arch/empty")), "");
  EXPECT_EQ(text(a.read("arch/empty_deflated")), "");
  EXPECT_EQ(a.find("nope"), nullptr);
  EXPECT_THROW(a.read("nope"), Error);
}

TEST(Zip, Zip64RecordsAndExtraFields) {
  // One stored entry whose sizes and offset live only in a zip64 extra field.
  const std::string name = "z/data.pkl", data = "zip64!";
  std::string out;
  put_le(out, 0x04034b50, 4);
  put_le(out, 45, 2);
  put_le(out, 0, 2);
  put_le(out, 0, 2);
  put_le(out, 0, 4);
  put_le(out, crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size()), 4);
  put_le(out, 0xFFFFFFFF, 4);
  put_le(out, 0xFFFFFFFF, 4);
  put_le(out, name.size(), 2);
  put_le(out, 0, 2);
  out += name + data;
  const uint64_t cd_off = out.size();
  std::string cd;
  put_le(cd, 0x02014b50, 4);
  put_le(cd, 45, 2);
  put_le(cd, 45, 2);
  put_le(cd, 0, 2);
  put_le(cd, 0, 2);
  put_le(cd, 0, 4);
  put_le(cd, crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size()), 4);
  put_le(cd, 0xFFFFFFFF, 4);
  put_le(cd, 0xFFFFFFFF, 4);
  put_le(cd, name.size(), 2);
  put_le(cd, 28, 2);
  put_le(cd, 0, 2);
  put_le(cd, 0, 2);
  put_le(cd, 0, 2);
  put_le(cd, 0, 4);
  put_le(cd, 0xFFFFFFFF, 4);
  cd += name;
  put_le(cd, 1, 2);
  put_le(cd, 24, 2);
  put_le(cd, data.size(), 8);
  put_le(cd, data.size(), 8);
  put_le(cd, 0, 8);
  out += cd;
  const uint64_t rec_off = out.size();
  put_le(out, 0x06064b50, 4);
  put_le(out, 44, 8);
  put_le(out, 45, 2);
  put_le(out, 45, 2);
  put_le(out, 0, 4);
  put_le(out, 0, 4);
  put_le(out, 1, 8);
  put_le(out, 1, 8);
  put_le(out, cd.size(), 8);
  put_le(out, cd_off, 8);
  put_le(out, 0x07064b50, 4);
  put_le(out, 0, 4);
  put_le(out, rec_off, 8);
  put_le(out, 1, 4);
  put_le(out, 0x06054b50, 4);
  put_le(out, 0, 4);
  put_le(out, 0xFFFF, 2);
  put_le(out, 0xFFFF, 2);
  put_le(out, 0xFFFFFFFF, 4);
  put_le(out, 0xFFFFFFFF, 4);
  put_le(out, 0, 2);
  ZipArchive a = open_mem(out);
  ASSERT_EQ(a.entries().size(), 1u);
  EXPECT_EQ(text(a.read(name)), data);
}

TEST(Zip, TruncatedArchive) {
  OneFile f;
  EXPECT_THROW(open_mem(f.zip.substr(0, f.zip.size() - 5)), Error);
  EXPECT_THROW(open_mem(f.zip.substr(0, f.cd() + 10)), Error);
}

TEST(Zip, WrongMagicAndTextFile) {
  EXPECT_THROW(open_mem(std::string(200, 'A')), Error);
  EXPECT_THROW(open_mem("just some text\nwith lines\n"), Error);
  EXPECT_THROW(open_mem(""), Error);
}

TEST(Zip, EntryPointingPastTheEnd) {
  OneFile f;
  f.set32(f.cd() + 42, 0x7FFFFFF0);  // local header offset
  try {
    open_mem(f.zip);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a/data.pkl"), std::string::npos) << e.what();
  }
}

TEST(Zip, SizesFarBeyondTheFile) {
  OneFile f;
  f.set32(f.cd() + 20, 0xFFFFFFF0);  // compressed size
  f.set32(f.cd() + 24, 0xFFFFFFF0);  // uncompressed size
  EXPECT_THROW(open_mem(f.zip), Error);
  OneFile g;
  g.set32(g.cd() + 24, 1000);  // stored: uncompressed != compressed
  EXPECT_THROW(open_mem(g.zip), Error);
}

TEST(Zip, DeflateRatioCapAndCorruptDeflate) {
  std::string z = make_zip({{"d", std::string(5000, 'q'), true}});
  const size_t cd = z.size() - 22 - (46 + 1);
  // Claim 4 GB from a few deflated bytes: refused before anything is allocated.
  for (int i = 0; i < 4; ++i) z[cd + 24 + i] = static_cast<char>(0xFF);
  z[cd + 24] = static_cast<char>(0xF0);
  EXPECT_THROW(open_mem(z), Error);
  std::string y = make_zip({{"d", std::string(5000, 'q'), true}});
  y[30 + 1 + 1] ^= 0x55;  // damage the deflate stream
  EXPECT_THROW(open_mem(y).read("d"), Error);
}

TEST(Zip, UnsupportedMethodWithHugeSizeIsRefusedBeforeAllocating) {
  OneFile f;
  f.zip[f.cd() + 10] = 1;            // method 1 (shrunk)
  f.set32(f.cd() + 24, 0xFFFFFFF0);  // 4 GB uncompressed
  ZipArchive a = open_mem(f.zip);
  EXPECT_THROW(a.read("a/data.pkl"), Error);
}

TEST(Zip, LocalHeaderMismatchAndCrc) {
  OneFile f;
  f.zip[30] = 'b';  // local header name differs from the central directory's
  EXPECT_THROW(open_mem(f.zip), Error);
  OneFile g;
  g.zip[30 + g.name.size()] ^= 1;  // data byte: CRC mismatch
  EXPECT_THROW(open_mem(g.zip).read(g.name), Error);
}

TEST(Zip, TooManyEntriesForDirectory) {
  OneFile f;
  const size_t eocd = f.zip.size() - 22;
  f.zip[eocd + 10] = static_cast<char>(0xFF);
  f.zip[eocd + 8] = static_cast<char>(0xFF);
  EXPECT_THROW(open_mem(f.zip), Error);
}

TEST(Zip, FilesystemErrors) {
  const auto dir = std::filesystem::temp_directory_path();
  EXPECT_THROW(ZipArchive::open(dir.string()), Error);
  EXPECT_THROW(ZipArchive::open((dir / "rvc_no_such_file.zip").string()), Error);
  const auto p = dir / ("rvc_zip_test_" + std::to_string(::getpid()) + ".zip");
  {
    OneFile f;
    std::ofstream(p, std::ios::binary) << f.zip;
  }
  EXPECT_EQ(text(ZipArchive::open(p.string()).read("a/data.pkl")), "hello world");
  std::filesystem::remove(p);
}

}  // namespace
}  // namespace rvc::formats
