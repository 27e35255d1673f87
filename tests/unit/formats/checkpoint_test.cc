// Torch checkpoints built in memory: tensors, shared storages, dtypes, strides, and bad files.
#include "rvc/formats/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "rvc/core/error.h"
#include "rvc/formats/model_info.h"
#include "unit/formats/torch_writer.h"

namespace rvc::formats {
namespace {

using test::make_checkpoint;
using test::PickleWriter;
using test::raw_bytes;

Checkpoint load_mem(const std::string& bytes) {
  return load_checkpoint_from(memory_source(bytes.data(), bytes.size(), "test.pth"));
}

std::string error_of(const std::string& bytes) {
  try {
    load_mem(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// {"a": tensor(key "0"), "b": transposed view of the same storage}
std::string two_views(const std::string& type, int64_t numel, std::vector<int64_t> shape_b,
                      std::vector<int64_t> stride_b, int64_t offset_b = 0) {
  PickleWriter w;
  w.proto().global("collections", "OrderedDict").empty_tuple().reduce().mark();
  w.str("a").tensor(type, "0", numel, {2, 3}, {3, 1});
  w.str("b").tensor(type, "0", numel, shape_b, stride_b, offset_b);
  return w.setitems().stop().bytes();
}

TEST(Checkpoint, SharedStorageStridesAndOffsets) {
  const std::vector<float> v{0, 1, 2, 3, 4, 5, 6};
  const Checkpoint ck = load_mem(make_checkpoint(two_views("FloatStorage", 7, {3, 2}, {1, 3}),
                                                 {{"0", raw_bytes(v)}}, "my_model"));
  EXPECT_EQ(ck.folder(), "my_model");
  EXPECT_EQ(ck.num_storages(), 1u);
  const TorchTensor& a = ck.root()->at("a")->tensor();
  const TorchTensor& b = ck.root()->at("b")->tensor();
  EXPECT_EQ(a.storage, b.storage);  // one storage, read once, shared
  const Tensor bt = to_float32(b);
  EXPECT_EQ(bt.shape(), (Shape{3, 2}));
  const std::vector<float> want{0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bt[i], want[static_cast<size_t>(i)]) << i;
  const TensorMap m = state_dict_to_tensors(ck.root());
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at("a")[5], 5.0f);
  // An offset view of the same storage.
  const Checkpoint ck2 =
      load_mem(make_checkpoint(two_views("FloatStorage", 7, {2}, {2}, 3), {{"0", raw_bytes(v)}}));
  const Tensor ot = to_float32(ck2.root()->at("b")->tensor());
  EXPECT_EQ(ot[0], 3.0f);
  EXPECT_EQ(ot[1], 5.0f);
}

TEST(Checkpoint, EveryDtypeConvertsExactly) {
  struct Case {
    std::string type, bytes;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      // fp16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, inf
      {"HalfStorage",
       raw_bytes(std::vector<uint16_t>{0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00}),
       {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), -0.0f, INFINITY}},
      {"BFloat16Storage",
       raw_bytes(std::vector<uint16_t>{0x3F80, 0xC040, 0x4049, 0, 0x0001, 0xFF80}),
       {1.0f, -3.0f, 3.140625f, 0.0f, std::ldexp(1.0f, -133), -INFINITY}},
      {"FloatStorage", raw_bytes(std::vector<float>{1.5f, -2, 3, 4, 5, 6}), {1.5f, -2, 3, 4, 5, 6}},
      {"DoubleStorage",
       raw_bytes(std::vector<double>{0.25, -1, 2, 3, 4, 1e10}),
       {0.25f, -1, 2, 3, 4, 1e10f}},
      {"LongStorage",
       raw_bytes(std::vector<int64_t>{-5, 0, 7, 1 << 20, 9, -1}),
       {-5, 0, 7, 1 << 20, 9, -1}},
      {"IntStorage",
       raw_bytes(std::vector<int32_t>{-5, 0, 7, 100000, 9, -1}),
       {-5, 0, 7, 100000, 9, -1}},
      {"ShortStorage",
       raw_bytes(std::vector<int16_t>{-5, 0, 7, 30000, 9, -1}),
       {-5, 0, 7, 30000, 9, -1}},
      {"CharStorage",
       raw_bytes(std::vector<int8_t>{-5, 0, 7, 127, -128, -1}),
       {-5, 0, 7, 127, -128, -1}},
      {"ByteStorage",
       raw_bytes(std::vector<uint8_t>{5, 0, 7, 255, 128, 1}),
       {5, 0, 7, 255, 128, 1}},
      {"BoolStorage", raw_bytes(std::vector<uint8_t>{1, 0, 1, 1, 0, 0}), {1, 0, 1, 1, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    PickleWriter w;
    w.proto().empty_dict().str("t").tensor(c.type, "k", 6, {2, 3}, {3, 1}).op('s').stop();
    const Checkpoint ck = load_mem(make_checkpoint(w.bytes(), {{"k", c.bytes}}));
    const Tensor t = to_float32(ck.root()->at("t")->tensor());
    ASSERT_EQ(t.numel(), 6);
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(t[i], c.want[static_cast<size_t>(i)]) << i;
      EXPECT_EQ(std::signbit(t[i]), std::signbit(c.want[static_cast<size_t>(i)])) << i;
    }
  }
}

TEST(Checkpoint, ParameterWrapperAndScalarTensor) {
  PickleWriter w;
  w.proto().empty_dict().str("p").global("torch._utils", "_rebuild_parameter");
  w.mark()
      .tensor("FloatStorage", "0", 1, {}, {})
      .boolean(true)
      .global("collections", "OrderedDict");
  w.empty_tuple().reduce().tuple().reduce().op('s').stop();
  const Checkpoint ck =
      load_mem(make_checkpoint(w.bytes(), {{"0", raw_bytes(std::vector<float>{7})}}));
  const Tensor t = to_float32(ck.root()->at("p")->tensor());
  EXPECT_EQ(t.ndim(), 0);
  EXPECT_EQ(t[0], 7.0f);
}

TEST(Checkpoint, StorageTooSmallForTheTensor) {
  const std::vector<float> v{0, 1, 2, 3, 4, 5};
  // stride reaches index 3*2 + ... past 6 elements
  EXPECT_NE(
      error_of(make_checkpoint(two_views("FloatStorage", 6, {3, 2}, {2, 3}), {{"0", raw_bytes(v)}}))
          .find("past its storage"),
      std::string::npos);
  // offset past the end
  EXPECT_NE(
      error_of(make_checkpoint(two_views("FloatStorage", 6, {2}, {1}, 5), {{"0", raw_bytes(v)}}))
          .find("past its storage"),
      std::string::npos);
  // the pid claims more elements than the entry holds
  EXPECT_NE(
      error_of(make_checkpoint(two_views("FloatStorage", 600, {2}, {1}), {{"0", raw_bytes(v)}}))
          .find("entry holds"),
      std::string::npos);
  // huge sizes overflow-checked, not allocated
  EXPECT_FALSE(
      error_of(make_checkpoint(two_views("FloatStorage", 6, {int64_t{1} << 40, 1 << 30}, {1, 1}),
                               {{"0", raw_bytes(v)}}))
          .empty());
  // missing storage entry
  EXPECT_NE(error_of(make_checkpoint(two_views("FloatStorage", 6, {2}, {1}), {})).find("data/0"),
            std::string::npos);
  // unsupported storage class
  EXPECT_NE(error_of(make_checkpoint(two_views("ComplexFloatStorage", 6, {2}, {1}),
                                     {{"0", raw_bytes(v)}}))
                .find("storage type"),
            std::string::npos);
}

TEST(Checkpoint, BadFiles) {
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("hello, this is a text file\n").find("not a PyTorch checkpoint"),
            std::string::npos);
  EXPECT_NE(error_of("\x80\x02\x8a\x0alegacy").find("legacy"), std::string::npos);
  // A valid zip of the wrong kind.
  EXPECT_NE(error_of(test::make_zip({{"docs/readme.txt", "hi"}})).find("no data.pkl"),
            std::string::npos);
  // Big-endian checkpoints are refused.
  std::string be = test::make_zip({{"a/data.pkl", "\x80\x02N."}, {"a/byteorder", "big"}});
  EXPECT_NE(error_of(be).find("byteorder"), std::string::npos);
  // A pickle error names the entry and offset.
  const std::string msg = error_of(test::make_zip({{"a/data.pkl", "\x80\x02\xfe."}}));
  EXPECT_NE(msg.find("a/data.pkl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 2"), std::string::npos) << msg;
  const auto dir = std::filesystem::temp_directory_path();
  EXPECT_THROW(load_checkpoint(dir.string()), Error);
  EXPECT_THROW(load_checkpoint((dir / "rvc_missing.pth").string()), Error);
}

TEST(Checkpoint, LoadsFromDiskAndDetectsUnknownKind) {
  const auto p = std::filesystem::temp_directory_path() /
                 ("rvc_ckpt_test_" + std::to_string(::getpid()) + ".pth");
  {
    std::ofstream f(p, std::ios::binary);
    f << make_checkpoint(two_views("HalfStorage", 6, {3}, {1}),
                         {{"0", raw_bytes(std::vector<uint16_t>(6, 0x3C00))}});
  }
  const Checkpoint ck = load_checkpoint(p.string());
  std::filesystem::remove(p);
  EXPECT_EQ(to_float32(ck.root()->at("b")->tensor())[2], 1.0f);
  const DetectedKind k = detect_kind(ck);
  EXPECT_EQ(k.kind, ModelKind::kUnknown);
  EXPECT_FALSE(k.reason.empty());
  EXPECT_THROW(read_voice_model(ck), Error);
  EXPECT_THROW(read_hubert(ck), Error);
  EXPECT_THROW(read_rmvpe(ck), Error);
}

TEST(ConvFeatureLayers, ParsesFairseqExpressions) {
  const auto l = parse_conv_feature_layers("[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2");
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0], (ConvLayerSpec{512, 10, 5}));
  EXPECT_EQ(l[4], (ConvLayerSpec{512, 3, 2}));
  EXPECT_EQ(l[6], (ConvLayerSpec{512, 2, 2}));
  EXPECT_EQ(parse_conv_feature_layers("[(8, 3, 1), (8, 3, 2)]").size(), 2u);
  EXPECT_THROW(parse_conv_feature_layers("__import__('os').system('x')"), Error);
  EXPECT_THROW(parse_conv_feature_layers("[(1,2)]"), Error);
  EXPECT_THROW(parse_conv_feature_layers("[(1,2,3)] * 99999999"), Error);
  EXPECT_THROW(parse_conv_feature_layers(""), Error);
}

}  // namespace
}  // namespace rvc::formats
