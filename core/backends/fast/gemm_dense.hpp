#pragma once
// Fully connected layer on oneDNN's SGEMM (JIT, picks AVX-512 where present); input and
// output are plain [n, features].
#include <memory>

#include "core/backends/fast/fast_op.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

/// y = x W + b over a plain input tensor; W, b are the layer's blocks of the flat buffer.
std::unique_ptr<FastOp> make_gemm_dense(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer,
                                        FastTensor& input);

}  // namespace synclab::fast
