#include "dnnl_exec.h"

#include <cstring>
#include <vector>

#include "dnnl_util.h"
#include "rvc/core/error.h"

namespace rvc::nn::detail {
namespace {

struct Bound {
  int id;
  dnnl::memory::desc md;
  dnnl::memory mem;
};

// Per-thread memory objects; bounded so that a stream of ever-new shapes cannot grow it without
// limit (the cache is then rebuilt, which allocates once more).
constexpr size_t kMaxBound = 256;

dnnl::memory& bound_memory(int id, const dnnl::memory::desc& md) {
  thread_local std::vector<Bound> cache;
  for (auto& b : cache) {
    if (b.id == id && b.md == md) return b.mem;
  }
  if (cache.size() >= kMaxBound) cache.clear();
  if (cache.capacity() < kMaxBound) cache.reserve(kMaxBound);
  cache.push_back(Bound{id, md, dnnl::memory(md, cpu_engine(), nullptr)});
  return cache.back().mem;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void to_bf16_impl(const float* x,
                                                                               uint16_t* y,
                                                                               size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, &x[i], sizeof u);
    const uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
    const uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    y[i] = static_cast<uint16_t>(nan ? ((u >> 16) | 0x40u) : r);
  }
}

}  // namespace

void run_primitive(const dnnl::primitive& prim, std::initializer_list<ExecArg> args) {
  dnnl_exec_arg_t c_args[8];
  if (args.size() > 8) fail("run_primitive: too many arguments");
  int n = 0;
  for (const ExecArg& a : args) {
    if (a.fixed) {
      c_args[n++] = {a.id, a.fixed->get()};
    } else {
      dnnl::memory& m = bound_memory(a.id, *a.md);
      m.set_data_handle(const_cast<void*>(a.ptr));
      c_args[n++] = {a.id, m.get()};
    }
  }
  apply_threads();
  dnnl::stream& s = thread_stream();
  dnnl_status_t st = dnnl_primitive_execute(prim.get(), s.get(), n, c_args);
  if (st != dnnl_success) fail("oneDNN primitive failed (status ", static_cast<int>(st), ")");
  s.wait();
}

void to_bf16(const float* x, uint16_t* y, size_t n) { to_bf16_impl(x, y, n); }

uint16_t* bf16_scratch(int slot, size_t n) {
  thread_local std::vector<uint16_t> bufs[4];
  auto& b = bufs[slot & 3];
  if (b.size() < n) b.resize(n);
  return b.data();
}

}  // namespace rvc::nn::detail
