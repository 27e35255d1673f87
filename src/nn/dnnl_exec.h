// Allocation-free execution of oneDNN primitives (private to src/nn).
//
// The C++ API allocates on every call (a dnnl::memory per buffer, an std::unordered_map of
// arguments); run_primitive() instead binds caller buffers to memory objects cached per calling
// thread (keyed by argument id and memory descriptor, created on the first call with a new
// shape and reused after; handles are rebound with set_data_handle) and calls the C API with a
// stack array of arguments. What remains is oneDNN's own argument map inside
// dnnl_primitive_execute (a few small nodes per call in libdnnl, which 2.6 cannot avoid).
//
// Also the bf16 helpers of the bf16 precision mode: conversion of f32 activations to bf16
// (round to nearest even) into thread-local scratch, vectorised at run-time ISA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <oneapi/dnnl/dnnl.hpp>

namespace rvc::nn::detail {

// One primitive argument: either a caller buffer described by `md` (bound per call) or a fixed
// memory object (packed weights, bias).
struct ExecArg {
  int id;
  const dnnl::memory::desc* md = nullptr;
  const void* ptr = nullptr;
  const dnnl::memory* fixed = nullptr;
};
inline ExecArg bound(int id, const dnnl::memory::desc& md, const void* ptr) {
  return ExecArg{id, &md, ptr, nullptr};
}
inline ExecArg fixed(int id, const dnnl::memory& m) { return ExecArg{id, nullptr, nullptr, &m}; }

// Runs `prim` on the calling thread's stream with nn::num_threads() OpenMP threads and waits.
// At most 8 arguments. Throws rvc::Error when oneDNN reports a failure.
void run_primitive(const dnnl::primitive& prim, std::initializer_list<ExecArg> args);

// f32 -> bf16 (round to nearest even, NaN kept quiet), n values.
void to_bf16(const float* x, uint16_t* y, size_t n);
// Thread-local bf16 scratch (grown on demand, never shrunk), one per slot.
uint16_t* bf16_scratch(int slot, size_t n);

}  // namespace rvc::nn::detail
