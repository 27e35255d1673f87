#include "rvc/formats/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "rvc/core/error.h"
#include "support/fixtures.h"

namespace rvc::formats {
namespace {

std::vector<uint8_t> with_header(const std::string& dict, const std::vector<uint8_t>& payload,
                                 int major = 1) {
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t hlen = dict.size();
  const int nlen = major == 1 ? 2 : 4;
  for (int i = 0; i < nlen; ++i) b.push_back(static_cast<uint8_t>(hlen >> (8 * i)));
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

TEST(Npy, Float32RoundTrip) {
  Tensor t({3, 4});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.5f * static_cast<float>(i) - 1.0f;
  const auto bytes = npy_bytes_f32(t.shape(), t.data());
  EXPECT_EQ((bytes.size() - 48) % 16, 0u);  // header padded to 64 bytes
  const NpyArray a = parse_npy(bytes.data(), bytes.size());
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.shape, (Shape{3, 4}));
  const Tensor back = a.to_tensor();
  ASSERT_EQ(back.shape(), t.shape());
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(back[i], t[i]);
}

TEST(Npy, Int64RoundTripThroughFile) {
  const std::vector<int64_t> v = {-1, 0, 7, int64_t{1} << 40, 5, 6};
  const auto path = std::filesystem::temp_directory_path() / "rvc_npy_test_i64.npy";
  write_npy(path.string(), Shape{6}, v.data());
  const NpyArray a = read_npy(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(a.dtype, "<i8");
  EXPECT_EQ(a.shape, (Shape{6}));
  EXPECT_EQ(a.to_int64(), v);
  EXPECT_THROW(NpyArray({"<f4", {1}, {0, 0, 0, 0}}).to_int64(), Error);
}

TEST(Npy, ReadsOtherDtypesAndVersions) {
  const std::vector<uint8_t> payload = {1, 0, 0xff, 0xff};  // two int16: 1, -1
  const std::string dict = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }\n";
  for (int major : {1, 2, 3}) {
    const auto b = with_header(dict, payload, major);
    const NpyArray a = parse_npy(b.data(), b.size());
    EXPECT_EQ(a.to_int64(), (std::vector<int64_t>{1, -1}));
    const Tensor t = a.to_tensor();
    EXPECT_EQ(t[1], -1.0f);
  }
  const auto b = with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 1), }", {1, 0});
  const NpyArray a = parse_npy(b.data(), b.size());
  EXPECT_EQ(a.shape, (Shape{2, 1}));
  EXPECT_EQ(a.to_tensor()[0], 1.0f);
  const auto s = with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                             {0, 0, 0, 0, 0, 0, 0xf0, 0x3f});
  EXPECT_EQ(parse_npy(s.data(), s.size()).to_tensor()[0], 1.0f);
}

void expect_error(const std::vector<uint8_t>& b, const std::string& needle) {
  try {
    parse_npy(b.data(), b.size(), "x.npy");
    FAIL() << "expected an error containing " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Npy, RefusesBadInput) {
  const std::vector<uint8_t> f4(8, 0);
  expect_error({1, 2, 3}, "bad magic");
  expect_error(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4),
               "fortran");
  expect_error(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4),
               "big-endian");
  expect_error(with_header("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", f4),
               "object");
  expect_error(with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", f4),
               "unsupported dtype");
  // Shape claims far more than the file holds: refused before any allocation.
  expect_error(with_header("{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (100000000000, 1000), }",
                           f4),
               "only 8 data bytes");
  expect_error(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4),
               "only 8 data bytes");
  expect_error(with_header("{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (4611686018427387904, 4), }",
                           f4),
               "x.npy");
  auto b = with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4);
  b[8] = 0xff;  // header length past the end
  expect_error(b, "header length");
  b[6] = 9;
  expect_error(b, "version");
  EXPECT_THROW(read_npy("/nonexistent/dir/x.npy"), Error);
}

TEST(Npy, ReadsFixtureArrays) {
  int n_read = 0;
  for (const auto& c : test::all_cases()) {
    for (const char* section : {"inputs", "outputs"}) {
      if (!c.manifest.contains(section)) continue;
      for (const auto& [key, entry] : c.manifest[section].items()) {
        if (!entry.is_object() || !entry.contains("file")) continue;
        const std::string file = entry["file"].get<std::string>();
        if (file.size() < 4 || file.substr(file.size() - 4) != ".npy") continue;
        SCOPED_TRACE(c.name + "/" + file);
        const NpyArray a = read_npy(c.file(file).string());
        if (entry.contains("shape")) {
          EXPECT_EQ(a.shape, entry["shape"].get<Shape>());
        }
        const std::string dt = entry.value("dtype", "float32");
        if (dt == "float32") {
          EXPECT_EQ(a.dtype, "<f4");
        } else if (dt == "int64") {
          EXPECT_EQ(a.dtype, "<i8");
        }
        ++n_read;
      }
    }
  }
  EXPECT_GT(n_read, 0);
}

}  // namespace
}  // namespace rvc::formats
