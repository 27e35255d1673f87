// rvc/nn/gelu_fast.h: exact-form GELU, 0.5 * x * (1 + erf(x / sqrt(2))), at vector speed.
//
// nn::gelu (ops.h) calls libm erff per element; this kernel evaluates erf with a clamped
// rational approximation (odd degree-13 numerator over even degree-8 denominator in x, the
// form used by Eigen / XLA), |erf error| < 2e-7 on all of float range, in a loop the compiler
// vectorises (AVX-512 / AVX2 / SSE2 clones picked at run time). Large buffers are split over
// nn::num_threads() OpenMP threads (one thread when called inside a parallel region).
//   Backend::kReference  nn::gelu (libm erf), the definition of correct;
//   Backend::kFast       the rational approximation.
// Stateless and reentrant; x == y (in place) is allowed.
#pragma once

#include <cstddef>

#include "rvc/nn/backend.h"

namespace rvc::nn {

void gelu_erf(const float* x, float* y, size_t n, Backend backend = default_backend());

}  // namespace rvc::nn
