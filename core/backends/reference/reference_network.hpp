#pragma once
// The "reference" backend: ReferenceModel<float> behind the Network interface.
#include <memory>

#include "core/backends/network.hpp"

namespace synclab {

/// A plain-loop network (slow, simple, the ground truth for tests).
std::unique_ptr<Network> make_reference_network(const ModelSpec& spec, const NetworkOptions& options);

}  // namespace synclab
