#pragma once
// 2x2 max pooling, stride 2, on oneDNN (forward keeps a workspace of argmax positions).
#include <memory>

#include "core/backends/fast/fast_op.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

/// Pools `input` (any layout) into an output in the layout oneDNN prefers for it.
/// relu_mask: the input is a ReLU output whose backward this op takes over. The gradient
/// reaches only each window's maximum, and ReLU passes it where that maximum (the pooled
/// output) is positive, so masking the 4x smaller output gradient gives the same result.
std::unique_ptr<FastOp> make_dnnl_maxpool(FastContext& ctx, const LayerSpec& layer, FastTensor& input,
                                          bool relu_mask);

}  // namespace synclab::fast
