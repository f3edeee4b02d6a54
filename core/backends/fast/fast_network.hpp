#pragma once
// The "fast" CPU backend: oneDNN for dense layers (its SGEMM), convolution, pooling
// and ReLU; primitives and buffers are built once per batch size and reused.
#include <memory>

#include "core/backends/network.hpp"

namespace synclab {

/// A network on the fast CPU backend using options.threads threads (<= 0: all cores).
std::unique_ptr<Network> make_fast_network(const ModelSpec& spec, const NetworkOptions& options);

}  // namespace synclab
