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

std::vector<Bound>& bound_cache() {
  thread_local std::vector<Bound> cache;
  return cache;
}

// Makes room for `n` more entries before a call binds any, so that no memory object a call has
// already bound is destroyed by a later eviction in the same call.
void reserve_bound(size_t n) {
  auto& cache = bound_cache();
  if (cache.size() + n > kMaxBound) cache.clear();
  if (cache.capacity() < kMaxBound) cache.reserve(kMaxBound);
}

dnnl::memory& bound_memory(int id, const dnnl::memory::desc& md) {
  auto& cache = bound_cache();
  for (auto& b : cache) {
    if (b.id == id && b.md == md) return b.mem;
  }
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

// The calling thread's scratchpad for user-scratchpad primitives (grown, never shrunk).
void* scratchpad(size_t bytes) {
  thread_local AlignedVector<float> buf;
  const size_t n = (bytes + sizeof(float) - 1) / sizeof(float);
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

}  // namespace

void run_primitive(const dnnl::primitive& prim, std::initializer_list<ExecArg> args) {
  dnnl_exec_arg_t c_args[8];
  if (args.size() > 8) fail("run_primitive: too many arguments");
  int n = 0;
  reserve_bound(args.size() + 1);  // + the scratchpad
  for (const ExecArg& a : args) {
    if (a.fixed) {
      c_args[n++] = {a.id, a.fixed->get()};
    } else {
      dnnl::memory& m = bound_memory(a.id, *a.md);
      m.set_data_handle(const_cast<void*>(a.ptr));
      c_args[n++] = {a.id, m.get()};
    }
  }
  // Primitives are created with a user scratchpad (make_attr): give it this thread's buffer.
  const_dnnl_primitive_desc_t cpd = nullptr;
  if (dnnl_primitive_get_primitive_desc(prim.get(), &cpd) == dnnl_success && cpd) {
    const dnnl_memory_desc_t* smd = dnnl_primitive_desc_query_md(cpd, dnnl_query_scratchpad_md, 0);
    const size_t bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (bytes > 0) {
      if (n >= 8) fail("run_primitive: too many arguments");
      const dnnl::memory::desc md(*smd);
      dnnl::memory& m = bound_memory(DNNL_ARG_SCRATCHPAD, md);
      m.set_data_handle(scratchpad(bytes));
      c_args[n++] = {DNNL_ARG_SCRATCHPAD, m.get()};
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
