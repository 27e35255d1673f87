// nn::Assist: a waiting thread takes half of a half-weight Linear's panels from its owner, with
// the same numbers as the owner alone; without a waiting helper the owner runs alone; serve()
// returns when the owner's scope ends, also when that scope ends in an exception or before the
// helper arrives.
#include "rvc/nn/assist.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "nn_test_util.h"
#include "rvc/nn/backend.h"
#include "rvc/nn/linear.h"

namespace rvc::nn {
namespace {

using test::random_tensor;

Tensor half_weights(int64_t out, int64_t in, std::mt19937& rng) {
  std::uniform_int_distribution<int> q(-2000, 2000);  // k / 4096: exactly a half
  Tensor w({out, in});
  for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<float>(q(rng)) / 4096.f;
  return w;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() &&
         std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * sizeof(float)) == 0;
}

TEST(AssistTest, HelperTakesHalfThePanelsWithTheSameNumbers) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "the half-weight kernel needs AVX-512F";
  std::mt19937 rng(3);
  const int threads_before = num_threads();
  set_num_threads(1);  // the kernel asks for help only where it would run on one thread
  for (const int64_t rows : {1, 13, 32, 64}) {
    for (const int64_t out : {31, 96, 768}) {
      const int64_t in = 17 + rows * 5;
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(in) + "->" + std::to_string(out));
      const Tensor w = half_weights(out, in, rng), b = random_tensor({out}, rng);
      const Linear lin(w, &b, Backend::kFast, PostOp::kNone);
      ASSERT_TRUE(lin.half_weights());
      const Tensor x = random_tensor({rows, in}, rng), y0 = random_tensor({rows, out}, rng);
      Tensor alone = y0, helped = y0;
      Assist assist;
      int parts = -1;
      // Alone on one thread; then with a second thread lent.
      lin.forward_strided(x.data(), rows, in, alone.data(), true);
      assist.open();
      std::thread helper([&] { assist.serve(); });
      {
        const Assist::Owner own(assist);
        while (Assist::available() == nullptr) {
        }
        lin.forward_strided(x.data(), rows, in, helped.data(), true);
        parts = assist.helped();
      }
      helper.join();
      EXPECT_TRUE(same_bits(alone, helped));
      // One 32-column panel cannot be split.
      EXPECT_EQ(parts, out > 32 ? 1 : 0);
    }
  }
  set_num_threads(threads_before);
}

TEST(AssistTest, OwnerWithoutAWaitingHelperRunsAlone) {
  Assist assist;
  EXPECT_EQ(Assist::available(), nullptr);  // no scope
  assist.open();
  {
    const Assist::Owner own(assist);
    EXPECT_EQ(Assist::available(), nullptr);  // nobody serving
  }
  EXPECT_EQ(Assist::available(), nullptr);  // scope over
  // A helper arriving after the scope ended returns at once.
  std::thread late([&] { assist.serve(); });
  late.join();
  EXPECT_EQ(assist.helped(), 0);
}

TEST(AssistTest, ServeReturnsWhenTheOwnerScopeEndsInAnException) {
  Assist assist;
  assist.open();
  std::atomic<bool> served{false};
  std::thread helper([&] {
    assist.serve();
    served = true;
  });
  try {
    const Assist::Owner own(assist);
    while (Assist::available() == nullptr) {
    }
    throw std::runtime_error("features failed");
  } catch (const std::runtime_error&) {
  }
  helper.join();
  EXPECT_TRUE(served);
  EXPECT_EQ(Assist::available(), nullptr);
}

}  // namespace
}  // namespace rvc::nn
