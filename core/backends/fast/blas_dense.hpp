#pragma once
// Fully connected layer on OpenBLAS SGEMM; input and output are plain [n, features].
#include <memory>

#include "core/backends/fast/fast_tensor.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

/// y = x W + b over a plain input tensor; W, b are the layer's blocks of the flat buffer.
std::unique_ptr<FastOp> make_blas_dense(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer,
                                        FastTensor& input);

}  // namespace synclab::fast
