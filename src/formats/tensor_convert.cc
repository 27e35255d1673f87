// TorchTensor -> float32 core Tensor (dtype conversion and stride handling).
#include <cstring>

#include "rvc/core/error.h"
#include "rvc/formats/checkpoint.h"

namespace rvc::formats {
namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {             // subnormal: normalise
      uint32_t e = 113;  // 127 - 15 + 1
      while (!(mant & 0x400)) {
        mant <<= 1;
        --e;
      }
      bits = sign | (e << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <typename T, typename Conv>
void convert(const TorchTensor& t, float* dst, Conv conv) {
  const auto* src = reinterpret_cast<const uint8_t*>(t.storage->bytes.data());
  auto load = [&](int64_t idx) {
    T v;
    std::memcpy(&v, src + static_cast<size_t>(idx) * sizeof(T), sizeof(T));
    return conv(v);
  };
  const int64_t n = shape_numel(t.shape);
  if (n == 0) return;
  // Contiguous (ignoring size-1 dims): one linear pass.
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] != 1 && t.strides[i] != expect) contiguous = false;
    expect *= t.shape[i];
  }
  if (contiguous) {
    for (int64_t i = 0; i < n; ++i) dst[i] = load(t.storage_offset + i);
    return;
  }
  const size_t nd = t.shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t off = t.storage_offset;
  for (int64_t i = 0; i < n; ++i) {
    dst[i] = load(off);
    for (size_t d = nd; d-- > 0;) {
      if (++idx[d] < t.shape[d]) {
        off += t.strides[d];
        break;
      }
      off -= (t.shape[d] - 1) * t.strides[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

Tensor to_float32(const TorchTensor& t) {
  if (!t.storage) fail("tensor without storage");
  if (t.shape.size() != t.strides.size()) fail("tensor shape and strides differ in rank");
  Tensor out(t.shape);
  float* dst = out.data();
  switch (t.dtype) {
    case DType::kFloat16:
      convert<uint16_t>(t, dst, half_to_float);
      break;
    case DType::kBFloat16:
      convert<uint16_t>(t, dst, bf16_to_float);
      break;
    case DType::kFloat32:
      convert<float>(t, dst, [](float v) { return v; });
      break;
    case DType::kFloat64:
      convert<double>(t, dst, [](double v) { return static_cast<float>(v); });
      break;
    case DType::kInt64:
      convert<int64_t>(t, dst, [](int64_t v) { return static_cast<float>(v); });
      break;
    case DType::kInt32:
      convert<int32_t>(t, dst, [](int32_t v) { return static_cast<float>(v); });
      break;
    case DType::kInt16:
      convert<int16_t>(t, dst, [](int16_t v) { return static_cast<float>(v); });
      break;
    case DType::kInt8:
      convert<int8_t>(t, dst, [](int8_t v) { return static_cast<float>(v); });
      break;
    case DType::kUInt8:
      convert<uint8_t>(t, dst, [](uint8_t v) { return static_cast<float>(v); });
      break;
    case DType::kBool:
      convert<uint8_t>(t, dst, [](uint8_t v) { return v ? 1.0f : 0.0f; });
      break;
  }
  return out;
}

}  // namespace rvc::formats
