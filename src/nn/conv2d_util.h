// Private helpers shared by conv2d.cc and conv_transpose2d.cc (not a public header).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "rvc/core/tensor.h"
#include "rvc/nn/conv1d.h"
#include "rvc/nn/ops.h"

namespace rvc::nn::detail {

// Folds a BatchNorm over `out` channels into weights laid out as `outer` blocks of [out][inner]
// floats, and into bias [out]. No-op for bn == nullptr; throws on a channel mismatch.
void fold_bn(const BatchNorm* bn, int64_t out, int64_t inner, int64_t outer, Tensor& weight,
             Tensor& bias);

}  // namespace rvc::nn::detail
