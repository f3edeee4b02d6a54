#pragma once
// Cost-only profiles of large models (timing mode): parameter counts and FLOPs per sample
// from the papers that introduced them, or derived from their published architectures.
#include <vector>

#include "core/cost/cost_model.hpp"

namespace synclab {

/// Every profile, each with its source; built once.
const std::vector<ModelCost>& cost_profiles();

}  // namespace synclab
