// rvc/core/hugepages.h: the GLIBC_TUNABLES string handling, and what rvc-rt reports about its own
// process: where the kernel's THP mode is madvise and glibc is 2.35+, rvc-rt re-executes itself
// with glibc.malloc.hugetlb=1 (keeping the user's other tunables) unless RVC_HUGEPAGES=0 or the
// user already chose a value.
#include "rvc/core/hugepages.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/fixtures.h"

namespace rvc {
namespace {

TEST(HugePages, TunableStringKeepsTheUsersOthers) {
  EXPECT_EQ(add_hugetlb_tunable(nullptr), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(add_hugetlb_tunable(""), "glibc.malloc.hugetlb=1");
  EXPECT_EQ(add_hugetlb_tunable("glibc.malloc.check=3"),
            "glibc.malloc.check=3:glibc.malloc.hugetlb=1");
  EXPECT_EQ(hugetlb_tunable_value(nullptr), "");
  EXPECT_EQ(hugetlb_tunable_value("glibc.malloc.check=3"), "");
  EXPECT_EQ(hugetlb_tunable_value("glibc.malloc.hugetlb=0"), "0");
  EXPECT_EQ(hugetlb_tunable_value("a=1:glibc.malloc.hugetlb=2:b=3"), "2");
  EXPECT_EQ(hugetlb_tunable_value("glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0"), "0");
  EXPECT_EQ(hugetlb_tunable_value("xglibc.malloc.hugetlb=1"), "");
}

std::string thp_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  const auto a = line.find('['), b = line.find(']');
  return a == std::string::npos || b == std::string::npos ? "" : line.substr(a + 1, b - a - 1);
}

// The second line of `rvc-rt --version` under the given environment prefix.
std::string status_line(const std::string& env) {
  std::string out;
  EXPECT_EQ(test::run_command("env -u GLIBC_TUNABLES -u RVC_HUGEPAGES " + env + " " +
                                  test::rvc_rt_bin().string() + " --version",
                              &out),
            0);
  const auto nl = out.find('\n');
  return nl == std::string::npos ? "" : out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1);
}

TEST(HugePages, RvcRtTurnsThemOnWhereTheKernelAsksForMadvise) {
  const std::string plain = status_line("");
  ASSERT_EQ(plain.rfind("huge pages: ", 0), 0u) << plain;
  if (thp_mode() != "madvise") GTEST_SKIP() << "THP mode here is '" << thp_mode() << "': " << plain;
  if (plain.find("glibc 2.35") != std::string::npos) GTEST_SKIP() << plain;
  EXPECT_EQ(plain, "huge pages: on (glibc.malloc.hugetlb=1, THP madvise)");
  EXPECT_EQ(status_line("RVC_HUGEPAGES=0"), "huge pages: off (RVC_HUGEPAGES=0)");
  EXPECT_EQ(status_line("GLIBC_TUNABLES=glibc.malloc.hugetlb=0"),
            "huge pages: off (GLIBC_TUNABLES sets glibc.malloc.hugetlb=0)");
  EXPECT_EQ(status_line("GLIBC_TUNABLES=glibc.malloc.check=0"),
            "huge pages: on (glibc.malloc.hugetlb=1, THP madvise)");
}

}  // namespace
}  // namespace rvc
