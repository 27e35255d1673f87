#include "rvc/nn/backend.h"

#include <algorithm>
#include <atomic>

namespace rvc::nn {
namespace {
std::atomic<int> g_backend{static_cast<int>(Backend::kFast)};
std::atomic<int> g_threads{2};
}  // namespace

Backend default_backend() { return static_cast<Backend>(g_backend.load()); }
void set_default_backend(Backend backend) { g_backend.store(static_cast<int>(backend)); }
int num_threads() { return g_threads.load(); }
void set_num_threads(int n) { g_threads.store(std::max(1, n)); }
const char* backend_name(Backend backend) {
  return backend == Backend::kReference ? "reference" : "fast";
}

}  // namespace rvc::nn
