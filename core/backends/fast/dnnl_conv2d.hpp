#pragma once
// Convolution (stride 1, SAME padding) on oneDNN: forward, backward-data and
// backward-weights primitives built once per batch size, in layouts oneDNN picks.
#include <memory>

#include "core/backends/fast/fast_op.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

/// fuse_relu: the forward primitive applies ReLU to its output (a following relu op then
/// only does the backward). need_input_grad: false for the first layer (no backward-data).
std::unique_ptr<FastOp> make_dnnl_conv2d(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer,
                                         FastTensor& input, bool fuse_relu, bool need_input_grad);

}  // namespace synclab::fast
