#pragma once
// Argument checks shared by the Network implementations: one-line errors on misuse.
#include <span>

#include "core/backends/network.hpp"

namespace synclab {

/// Throws Error unless params (and grad, when checked) hold num_params floats and every
/// label of the batch is below the model's class count.
void check_network_args(const ModelSpec& spec, std::span<const float> params, const Batch& batch);
void check_grad_size(const ModelSpec& spec, std::span<float> grad);

}  // namespace synclab
