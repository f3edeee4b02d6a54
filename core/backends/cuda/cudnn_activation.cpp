#include "core/backends/cuda/cudnn_activation.hpp"

#include <limits>
#include <string>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/common/error.hpp"

namespace synclab::cuda {

CudnnActivation::CudnnActivation(CudaContext& ctx, Activation kind, std::size_t count) : ctx_(ctx) {
  if (count == 0 || count > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error("cudnn: activation over " + std::to_string(count) + " elements is out of range");
  // Element-wise: the shape is irrelevant, only the element count matters.
  desc_ = make_tensor_desc(1, static_cast<int>(count), 1, 1);
  cudnnActivationDescriptor_t d = nullptr;
  check(cudnnCreateActivationDescriptor(&d), "cudnnCreateActivationDescriptor");
  act_ = ActivationDesc(d);
  const cudnnActivationMode_t mode = kind == Activation::Relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_SIGMOID;
  check(cudnnSetActivationDescriptor(d, mode, CUDNN_NOT_PROPAGATE_NAN, 0.0), "cudnnSetActivationDescriptor");
}

void CudnnActivation::forward(const float* x, float* y) {
  const float one = 1.f, zero = 0.f;
  check(cudnnActivationForward(ctx_.cudnn(), act_.get(), &one, desc_.get(), x, &zero, desc_.get(), y),
        "cudnnActivationForward");
}

void CudnnActivation::backward(const float* x, const float* y, const float* dy, float* dx) {
  const float one = 1.f, zero = 0.f;
  check(cudnnActivationBackward(ctx_.cudnn(), act_.get(), &one, desc_.get(), y, desc_.get(), dy, desc_.get(), x, &zero,
                                desc_.get(), dx),
        "cudnnActivationBackward");
}

}  // namespace synclab::cuda
