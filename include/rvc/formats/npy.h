// rvc/formats/npy.h: reading and writing NumPy .npy arrays.
//
// Reads format versions 1.0, 2.0 and 3.0 with little-endian (or byte-order-free) dtypes
// '<f4', '<f8', '<i8', '<i4', '<i2', '|u1', '|b1' in C order. Fortran order, big-endian dtypes,
// object arrays and anything else are refused with an rvc::Error naming the file and the
// offending header field. Every size is checked against the bytes actually present, so a header
// claiming a huge shape cannot make the reader allocate more than the file holds.
// Writes float32 ('<f4') and int64 ('<i8') arrays as version 1.0 (2.0 if the header is long).
// All functions are reentrant; an NpyArray is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rvc/core/tensor.h"

namespace rvc::formats {

struct NpyArray {
  std::string dtype;          // as written in the header, e.g. "<f4", "|u1"
  Shape shape;                // empty for a 0-d array (one element)
  std::vector<uint8_t> data;  // raw little-endian bytes, C order, numel * item_size bytes

  int64_t numel() const;
  size_t item_size() const;  // bytes per element of dtype
  // Converts any numeric dtype to float32 (bool -> 0/1); the shape is kept.
  Tensor to_tensor() const;
  // Integer and bool dtypes to int64; float dtypes are refused (no silent truncation).
  std::vector<int64_t> to_int64() const;
};

// `name` is used in error messages only.
NpyArray parse_npy(const uint8_t* bytes, size_t size, const std::string& name = "<memory>");
NpyArray read_npy(const std::string& path);

// Serialises to .npy bytes.
std::vector<uint8_t> npy_bytes_f32(const Shape& shape, const float* data);
std::vector<uint8_t> npy_bytes_i64(const Shape& shape, const int64_t* data);
void write_npy(const std::string& path, const Tensor& t);
void write_npy(const std::string& path, const Shape& shape, const int64_t* data);

}  // namespace rvc::formats
