// rvc/core/tensor.h: an owning float32 tensor (row-major, contiguous, 64-byte aligned).
//
// The one activation / weight container shared by formats (after dtype conversion), nn, models
// and pipeline. Shapes are int64 like PyTorch's. Not thread-safe for concurrent writes; a const
// Tensor may be read from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <new>
#include <string>
#include <vector>

namespace rvc {

template <typename T, std::size_t kAlign = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() noexcept = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) noexcept {}  // NOLINT
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlign)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(kAlign)); }
  bool operator==(const AlignedAllocator&) const noexcept { return true; }
  bool operator!=(const AlignedAllocator&) const noexcept { return false; }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

using Shape = std::vector<int64_t>;

// Number of elements of a shape; throws rvc::Error on a negative dim or int64 overflow.
int64_t shape_numel(const Shape& shape);
// "[1, 16, 100]"
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor of the given shape.
  explicit Tensor(Shape shape);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}
  Tensor(Shape shape, const float* src);

  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty(); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }

  // Changes the shape keeping the data; the element count must stay the same.
  void reshape(Shape shape);
  // Changes shape and element count; contents are unspecified afterwards (zero when grown).
  void resize(Shape shape);

 private:
  Shape shape_;
  AlignedVector<float> data_;
};

// Named tensors, e.g. a state dict after dtype conversion ("enc_p.emb_phone.weight" -> Tensor).
using TensorMap = std::map<std::string, Tensor>;

}  // namespace rvc
