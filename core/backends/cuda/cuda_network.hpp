#pragma once
// Entry points of the optional cuda backend (compiled only when SYNCLAB_WITH_CUDA is defined,
// i.e. CMake found CUDA + cuDNN; see cmake/Cuda.cmake).
#include <memory>

#include "core/backends/network.hpp"

namespace synclab {

/// Number of usable CUDA devices; 0 when no driver or no GPU is present (never throws).
int cuda_device_count();

/// A network whose parameters, activations and gradients live on GPU options.device.
/// Throws Error with one line when no GPU is present.
std::unique_ptr<Network> make_cuda_network(const ModelSpec& spec, const NetworkOptions& options);

}  // namespace synclab
