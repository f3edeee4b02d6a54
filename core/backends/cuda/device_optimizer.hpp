#pragma once
// The server optimizers (sgd, momentum, adam) applied on the GPU to device-resident
// parameters: the same update formulas as core/optim, one kernel per step.
#include <cstddef>

#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/device_buffer.hpp"
#include "core/optim/optimizer.hpp"

namespace synclab::cuda {

class DeviceOptimizer {
 public:
  /// State (moments) for `size` parameters, zeroed on the device; throws
  /// ConfigError("train.optimizer.name") for an unknown optimizer.
  DeviceOptimizer(CudaContext& ctx, const OptimizerSpec& spec, std::size_t size);
  /// Enqueues params -= update(grad) with learning rate lr * lr_scale (device pointers, size floats).
  void step(float* params, const float* grad, double lr_scale = 1.0);
  std::size_t size() const { return size_; }
  std::size_t steps() const { return steps_; }  ///< steps taken so far

 private:
  CudaContext& ctx_;
  OptimizerSpec spec_;
  std::size_t size_, steps_ = 0;
  DeviceBuffer<float> m_, v_;  // adam: first and second moments; momentum: velocity in m_
};

}  // namespace synclab::cuda
