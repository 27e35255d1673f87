// tests/support/alloc_counter.h: counts global operator new calls inside a scope, split by who
// called: rvc code (or anything outside oneDNN) vs oneDNN's own library.
//
// Include in exactly ONE translation unit of a test executable: it replaces the global
// operator new/delete. Usage:
//   test::AllocCounter c;           // finds libdnnl's code range (before counting)
//   c.start(); work(); c.stop();
//   EXPECT_EQ(c.outside_dnnl(), 0);  // no allocation by rvc code
// oneDNN 2.6's dnnl_primitive_execute builds an std::unordered_map of its arguments on every
// call (a few small nodes); rvc cannot avoid that, so such allocations (whose immediate caller
// is inside libdnnl.so) are counted apart, in dnnl().
#pragma once

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace rvc::test::alloc_detail {
inline std::atomic<bool> counting{false};
inline std::atomic<int64_t> outside{0}, dnnl{0};
inline uintptr_t dnnl_lo = 0, dnnl_hi = 0;
inline void* first_callers[8] = {};  // immediate callers of the first outside allocations

inline void* counted(std::size_t n, std::size_t align, void* caller) {
  if (counting.load(std::memory_order_relaxed)) {
    const auto a = reinterpret_cast<uintptr_t>(caller);
    if (a >= dnnl_lo && a < dnnl_hi) {
      dnnl.fetch_add(1);
    } else {
      const int64_t i = outside.fetch_add(1);
      if (i < 8) first_callers[i] = caller;
    }
  }
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align > alignof(std::max_align_t)) {
    if (posix_memalign(&p, align, n) != 0) p = nullptr;
  } else {
    p = std::malloc(n);
  }
  if (!p) throw std::bad_alloc();
  return p;
}

inline int find_dnnl(dl_phdr_info* info, size_t, void*) {
  if (!info->dlpi_name || !std::strstr(info->dlpi_name, "libdnnl")) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      if (dnnl_lo == 0 || lo < dnnl_lo) dnnl_lo = lo;
      if (lo + ph.p_memsz > dnnl_hi) dnnl_hi = lo + ph.p_memsz;
    }
  }
  return 0;
}
}  // namespace rvc::test::alloc_detail

#define RVC_ALLOC_CALLER __builtin_return_address(0)
void* operator new(std::size_t n) {
  return rvc::test::alloc_detail::counted(n, 0, RVC_ALLOC_CALLER);
}
void* operator new[](std::size_t n) {
  return rvc::test::alloc_detail::counted(n, 0, RVC_ALLOC_CALLER);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return rvc::test::alloc_detail::counted(n, static_cast<std::size_t>(a), RVC_ALLOC_CALLER);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return rvc::test::alloc_detail::counted(n, static_cast<std::size_t>(a), RVC_ALLOC_CALLER);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return rvc::test::alloc_detail::counted(n, 0, RVC_ALLOC_CALLER);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return rvc::test::alloc_detail::counted(n, 0, RVC_ALLOC_CALLER);
  } catch (...) {
    return nullptr;
  }
}
#undef RVC_ALLOC_CALLER
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace rvc::test {

class AllocCounter {
 public:
  AllocCounter() {
    if (alloc_detail::dnnl_hi == 0) dl_iterate_phdr(alloc_detail::find_dnnl, nullptr);
  }
  void start() {
    alloc_detail::outside = 0;
    alloc_detail::dnnl = 0;
    alloc_detail::counting = true;
  }
  void stop() { alloc_detail::counting = false; }
  int64_t outside_dnnl() const { return alloc_detail::outside.load(); }
  int64_t dnnl() const { return alloc_detail::dnnl.load(); }
  // "file(+offset)" of the callers of the first outside allocations, for failure messages
  // (resolve with addr2line -e FILE OFFSET).
  std::string callers() const {
    std::string s;
    for (int64_t i = 0; i < std::min<int64_t>(outside_dnnl(), 8); ++i) {
      Dl_info info{};
      const void* c = alloc_detail::first_callers[i];
      if (dladdr(c, &info) && info.dli_fname) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "(+0x%zx) ",
                      static_cast<size_t>(reinterpret_cast<uintptr_t>(c) -
                                          reinterpret_cast<uintptr_t>(info.dli_fbase)));
        s += std::string(info.dli_fname) + buf;
      }
    }
    return s;
  }
};

}  // namespace rvc::test
