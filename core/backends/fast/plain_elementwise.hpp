#pragma once
// Sigmoid and dropout on plain tensors, with the shared loops of core/layers (the dropout
// mask comes from layers::dropout_mask, so it matches the reference backend bit for bit).
#include <cstddef>
#include <memory>

#include "core/backends/fast/fast_op.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::fast {

std::unique_ptr<FastOp> make_plain_sigmoid(FastContext& ctx, FastTensor& input);

/// layer_index: position of the layer in the spec (part of the mask's seed).
std::unique_ptr<FastOp> make_plain_dropout(FastContext& ctx, const LayerSpec& layer, std::size_t layer_index,
                                           FastTensor& input);

}  // namespace synclab::fast
