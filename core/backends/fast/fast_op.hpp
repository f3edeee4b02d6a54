#pragma once
// One step of the fast backend as a chain of ops, each owning its output tensor.
#include <cstdint>

#include "core/backends/fast/fast_tensor.hpp"

namespace synclab::fast {

/// What every op sees during one step.
struct StepArgs {
  const float* params = nullptr;  ///< flat parameter buffer
  float* grad = nullptr;          ///< flat gradient buffer (backward only)
  std::uint64_t seed = 0;         ///< dropout seed
  bool training = true;           ///< false: inference (dropout off)
};

/// One layer (or layout change) of the fast backend.
class FastOp {
 public:
  virtual ~FastOp() = default;
  /// Tensor holding this op's result (may be the input tensor itself for in-place ops).
  virtual FastTensor& output() = 0;
  /// Computes output() from the input.
  virtual void forward(FastContext& ctx, const StepArgs& args) = 0;
  /// From output().grad: writes parameter gradients into args.grad and, when
  /// need_input_grad, the input tensor's grad.
  virtual void backward(FastContext& ctx, const StepArgs& args, bool need_input_grad) = 0;
};

}  // namespace synclab::fast
