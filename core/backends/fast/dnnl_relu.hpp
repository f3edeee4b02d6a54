#pragma once
// ReLU on oneDNN, in place on its input tensor (any layout; padding stays zero).
#include <memory>

#include "core/backends/fast/fast_op.hpp"

namespace synclab::fast {

/// fused_forward: the producer already applied ReLU (a conv post-op), so forward does
/// nothing and backward masks the gradient with the output.
std::unique_ptr<FastOp> make_dnnl_relu(FastContext& ctx, FastTensor& input, bool fused_forward);

}  // namespace synclab::fast
