#pragma once
// ReLU on oneDNN, in place on its input tensor (any layout; padding stays zero). In place
// is safe because no producer here reads its own output in backward (conv, dense, pooling,
// dropout and reorders do not; sigmoid's output is positive, so ReLU leaves it unchanged).
#include <memory>

#include "core/backends/fast/fast_op.hpp"

namespace synclab::fast {

/// Which directions the op runs: forward=false when the producer already applied ReLU (a
/// conv post-op); backward=false when a following max pooling masks the gradient instead.
struct ReluPasses {
  bool forward = true;
  bool backward = true;
};

std::unique_ptr<FastOp> make_dnnl_relu(FastContext& ctx, FastTensor& input, ReluPasses passes);

}  // namespace synclab::fast
