// rvc/nn/backend.h: process-wide kernel settings (backend choice and thread count).
//
// Layout convention of the whole nn layer: activations are time-major / channels-last, a
// sequence of T frames with C channels is a row-major [T][C] buffer (rvc::Tensor of shape
// {T, C}); 2-D feature maps are [H][W][C]. Weights keep PyTorch's own layouts ([out][in][k] for
// Conv1d, [in][out][k] for ConvTranspose1d, [out][in] for Linear) when handed to a layer's
// constructor; layers repack them once.
//
// Every kernel has two implementations behind one signature:
//   Backend::kReference  plain C++ loops, the definition of correct (tests compare against it);
//   Backend::kFast       oneDNN primitives (conv, matmul) and vectorisable loops elsewhere.
// A layer picks its backend when it is constructed (default: default_backend()).
//
// Threads: oneDNN runs on OpenMP; the fast kernels set the OpenMP thread count of the *calling*
// thread to num_threads() before each primitive (set_num_threads() also sets it for the thread
// that calls it). The settings are atomics and may be changed at any time from any thread;
// changing them does not affect a call already running. oneDNN fixes a primitive's thread count
// when it creates it, so layers cache primitives per thread count: the first call (or prepare())
// at a new count creates that count's primitives, so prepare again after a change to keep a
// real-time path free of allocation.
//
// Precision: fast layers with weights (Conv1d, ConvTranspose1d, Linear, ...) read
// default_precision() when they are constructed (weights are packed once, in that type). kBf16
// runs the matrix products with bf16 weights and bf16-rounded activations, accumulating in f32,
// with f32 outputs; only on CPUs that do bf16 natively (bf16_supported()), elsewhere layers
// use f32 (oneDNN emulates bf16 on plain AVX-512 at a third of f32 speed, and fails on AVX2).
// Reference layers always compute in f32/f64.
#pragma once

namespace rvc::nn {

enum class Backend { kReference = 0, kFast = 1 };

// Backend a layer gets when none is named. Initially kFast.
Backend default_backend();
void set_default_backend(Backend backend);

// Threads used by fast kernels (>= 1). Initially 2.
int num_threads();
void set_num_threads(int n);

const char* backend_name(Backend backend);

enum class Precision { kF32 = 0, kBf16 = 1 };

// Precision a fast layer is built with when none is named. Initially kF32.
Precision default_precision();
void set_default_precision(Precision precision);
// True when this CPU runs bf16 matrix products natively (oneDNN ISA >= avx512_core_bf16).
bool bf16_supported();
// The precision a layer actually uses when `requested` is asked for: kBf16 only where
// bf16_supported(); otherwise kF32, with a one-line notice logged once per process.
Precision effective_precision(Precision requested);
const char* precision_name(Precision precision);  // "f32" / "bf16"
// Parses "f32"/"float32"/"bf16"/"bfloat16"; throws rvc::Error naming `what` otherwise.
Precision parse_precision(const char* text, const char* what);

}  // namespace rvc::nn
