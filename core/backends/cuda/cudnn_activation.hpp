#pragma once
// Element-wise activations (ReLU, sigmoid) through cuDNN over a flat tensor.
#include <cstddef>

#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cudnn_descriptors.hpp"

namespace synclab::cuda {

enum class Activation { Relu, Sigmoid };

class CudnnActivation {
 public:
  /// An activation over `count` floats (at most INT_MAX, a cuDNN dimension).
  CudnnActivation(CudaContext& ctx, Activation kind, std::size_t count);
  /// y = f(x).
  void forward(const float* x, float* y);
  /// dx = dy * f'(x), computed from the output y (and x, which cuDNN also reads).
  void backward(const float* x, const float* y, const float* dy, float* dx);

 private:
  CudaContext& ctx_;
  TensorDesc desc_;
  ActivationDesc act_;
};

}  // namespace synclab::cuda
