// rvc/core/hugepages.h: transparent huge pages for the process's heap, through glibc.
//
// The networks stream hundreds of MB of weights and feature maps; backed by 4 KiB pages that is
// a TLB miss every 4 KiB and, on a one-shot conversion, a page fault every 4 KiB of first touch.
// glibc >= 2.35 can ask the kernel for 2 MiB pages on its heap (madvise MADV_HUGEPAGE) when the
// tunable glibc.malloc.hugetlb=1 is set, but reads tunables only at process start. So a program
// calls use_huge_pages(argv) first thing in main(): where it helps (glibc >= 2.35, THP in
// "madvise" mode, the tunable not already set, RVC_HUGEPAGES not 0/off/false/no) it adds the
// tunable to GLIBC_TUNABLES and re-executes itself once (same pid, arguments and descriptors);
// anywhere else it returns and the program runs as before.
#pragma once

#include <string>

namespace rvc {

// Re-executes the program with glibc.malloc.hugetlb=1 where that helps (see above); returns
// otherwise, and also when the re-exec fails (the program then runs with 4 KiB pages).
void use_huge_pages(char** argv);

// One line on the state of the current process, e.g. "huge pages: on (glibc.malloc.hugetlb=1,
// THP madvise)" or "huge pages: off (RVC_HUGEPAGES=0)".
std::string huge_pages_status();

// GLIBC_TUNABLES with glibc.malloc.hugetlb=1 added to `old` (null or empty: none before), the
// user's other tunables kept.
std::string add_hugetlb_tunable(const char* old);

// The value of glibc.malloc.hugetlb in a GLIBC_TUNABLES string (null: none), or "" when unset.
std::string hugetlb_tunable_value(const char* tunables);

}  // namespace rvc
