#include "rvc/core/tensor.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "rvc/core/error.h"

namespace rvc {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail("shape ", shape_str(shape), ": negative dimension");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      fail("shape ", shape_str(shape), ": element count overflows");
    }
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  data_.assign(static_cast<size_t>(shape_numel(shape_)), 0.0f);
}

Tensor::Tensor(Shape shape, const float* src) : Tensor(std::move(shape)) {
  if (!data_.empty()) std::memcpy(data_.data(), src, data_.size() * sizeof(float));
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  const int j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) fail("tensor ", shape_str(shape_), ": no dimension ", i);
  return shape_[static_cast<size_t>(j)];
}

void Tensor::reshape(Shape shape) {
  if (shape_numel(shape) != numel()) {
    fail("reshape ", shape_str(shape_), " -> ", shape_str(shape), ": element count differs");
  }
  shape_ = std::move(shape);
}

void Tensor::resize(Shape shape) {
  data_.resize(static_cast<size_t>(shape_numel(shape)));
  shape_ = std::move(shape);
}

}  // namespace rvc
