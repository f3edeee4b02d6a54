#pragma once
// Layout change to plain row-major (NCHW) before ops that need it (dense, loss).
#include <memory>

#include "core/backends/fast/fast_op.hpp"

namespace synclab::fast {

/// Reorders values forward and gradients backward between input's layout and plain.
std::unique_ptr<FastOp> make_to_plain(FastContext& ctx, FastTensor& input);

}  // namespace synclab::fast
