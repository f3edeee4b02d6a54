#pragma once
// 2x2 max pooling, stride 2, on oneDNN (forward keeps a workspace of argmax positions).
#include <memory>

#include "core/backends/fast/fast_op.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

/// Pools `input` (any layout) into an output in the layout oneDNN prefers for it.
std::unique_ptr<FastOp> make_dnnl_maxpool(FastContext& ctx, const LayerSpec& layer, FastTensor& input);

}  // namespace synclab::fast
