#include "rvc/core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "rvc/core/error.h"

namespace rvc {
namespace {

TEST(Tensor, ZeroFilledAligned) {
  Tensor t({2, 3, 5});
  EXPECT_EQ(t.numel(), 30);
  EXPECT_EQ(t.dim(-1), 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t[i], 0.0f);
}

TEST(Tensor, ReshapeKeepsCount) {
  Tensor t({4, 6});
  t[5] = 1.5f;
  t.reshape({2, 12});
  EXPECT_EQ(t[5], 1.5f);
  EXPECT_THROW(t.reshape({5, 5}), Error);
}

TEST(Tensor, RejectsNegativeAndOverflow) {
  EXPECT_THROW(shape_numel({-1, 3}), Error);
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_THROW(shape_numel({big, 4}), Error);
  EXPECT_THROW(Tensor({2}).dim(3), Error);
}

}  // namespace
}  // namespace rvc
