#include "rvc/nn/backend.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include <omp.h>

#include "rvc/core/error.h"
#include "rvc/core/log.h"

namespace rvc::nn {
namespace {
std::atomic<int> g_backend{static_cast<int>(Backend::kFast)};
std::atomic<int> g_threads{2};
std::atomic<int> g_precision{static_cast<int>(Precision::kF32)};
}  // namespace

Backend default_backend() { return static_cast<Backend>(g_backend.load()); }
void set_default_backend(Backend backend) { g_backend.store(static_cast<int>(backend)); }
int num_threads() { return g_threads.load(); }
void set_num_threads(int n) {
  n = std::max(1, n);
  g_threads.store(n);
  // The calling thread's OpenMP setting follows at once (the fast kernels apply it to the
  // thread that runs them before each primitive; this covers code on this thread that creates
  // a primitive or opens a region before that).
  if (!omp_in_parallel()) omp_set_num_threads(n);
}
const char* backend_name(Backend backend) {
  return backend == Backend::kReference ? "reference" : "fast";
}

Precision default_precision() { return static_cast<Precision>(g_precision.load()); }
void set_default_precision(Precision precision) { g_precision.store(static_cast<int>(precision)); }

bool bf16_supported() {
  static const bool ok = [] {
    auto isa = dnnl::get_effective_cpu_isa();
    // Bit-flag ISA values: compare against the two that include native bf16.
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  }();
  return ok;
}

Precision effective_precision(Precision requested) {
  if (requested != Precision::kBf16 || bf16_supported()) return requested;
  static std::atomic<bool> told{false};
  if (!told.exchange(true)) {
    log_warn("bf16 requested but this CPU has no native bf16 (needs AVX512-BF16); using f32");
  }
  return Precision::kF32;
}

const char* precision_name(Precision precision) {
  return precision == Precision::kBf16 ? "bf16" : "f32";
}

Precision parse_precision(const char* text, const char* what) {
  if (!std::strcmp(text, "f32") || !std::strcmp(text, "float32")) return Precision::kF32;
  if (!std::strcmp(text, "bf16") || !std::strcmp(text, "bfloat16")) return Precision::kBf16;
  fail(what, ": precision '", text, "', expected f32 or bf16");
}

}  // namespace rvc::nn
