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
// thread to num_threads() before each primitive. The settings are atomics and may be changed at
// any time from any thread; changing them does not affect a call already running.
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

}  // namespace rvc::nn
