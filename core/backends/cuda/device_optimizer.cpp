#include "core/backends/cuda/device_optimizer.hpp"

#include <cmath>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/kernels.hpp"
#include "core/common/error.hpp"

namespace synclab::cuda {

DeviceOptimizer::DeviceOptimizer(CudaContext& ctx, const OptimizerSpec& spec, std::size_t size)
    : ctx_(ctx), spec_(spec), size_(size) {
  if (spec.name == "adam") {
    m_ = DeviceBuffer<float>(size);
    v_ = DeviceBuffer<float>(size);
  } else if (spec.name == "momentum") {
    m_ = DeviceBuffer<float>(size);
  } else if (spec.name != "sgd") {
    throw ConfigError("train.optimizer.name", "unknown optimizer '" + spec.name + "' (expected sgd, momentum or adam)");
  }
  if (m_.size() > 0) check(cudaMemsetAsync(m_.data(), 0, size * sizeof(float), ctx.stream()), "cudaMemsetAsync");
  if (v_.size() > 0) check(cudaMemsetAsync(v_.data(), 0, size * sizeof(float), ctx.stream()), "cudaMemsetAsync");
}

void DeviceOptimizer::step(float* params, const float* grad, double lr_scale) {
  const float lr = static_cast<float>(spec_.lr * lr_scale), wd = static_cast<float>(spec_.weight_decay);
  ++steps_;
  if (spec_.name == "sgd") {
    sgd_step(params, grad, size_, lr, wd, ctx_.stream());
  } else if (spec_.name == "momentum") {
    momentum_step(params, m_.data(), grad, size_, lr, static_cast<float>(spec_.momentum), wd, ctx_.stream());
  } else {
    // Bias corrections in double on the host, exactly as the CPU Adam computes them.
    const double t = static_cast<double>(steps_);
    const double bc1 = 1.0 - std::pow(spec_.beta1, t), bc2 = 1.0 - std::pow(spec_.beta2, t);
    cuda_math::AdamStep a;
    a.beta1 = static_cast<float>(spec_.beta1);
    a.beta2 = static_cast<float>(spec_.beta2);
    a.step = static_cast<float>(spec_.lr * lr_scale / bc1);
    a.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    a.eps = static_cast<float>(spec_.eps);
    a.wd = wd;
    adam_step(params, m_.data(), v_.data(), grad, size_, a, ctx_.stream());
  }
}

}  // namespace synclab::cuda
