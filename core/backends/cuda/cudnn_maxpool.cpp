#include "core/backends/cuda/cudnn_maxpool.hpp"

#include "core/backends/cuda/cuda_check.hpp"

namespace synclab::cuda {

CudnnMaxPool2x2::CudnnMaxPool2x2(CudaContext& ctx, int n, int c, int h, int w) : ctx_(ctx) {
  x_desc_ = make_tensor_desc(n, c, h, w);
  y_desc_ = make_tensor_desc(n, c, h / 2, w / 2);
  cudnnPoolingDescriptor_t d = nullptr;
  check(cudnnCreatePoolingDescriptor(&d), "cudnnCreatePoolingDescriptor");
  pool_ = PoolDesc(d);
  // The deterministic max mode routes each window's gradient to one element, like the reference.
  check(cudnnSetPooling2dDescriptor(d, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2),
        "cudnnSetPooling2dDescriptor");
}

void CudnnMaxPool2x2::forward(const float* x, float* y) {
  const float one = 1.f, zero = 0.f;
  check(cudnnPoolingForward(ctx_.cudnn(), pool_.get(), &one, x_desc_.get(), x, &zero, y_desc_.get(), y),
        "cudnnPoolingForward");
}

void CudnnMaxPool2x2::backward(const float* x, const float* y, const float* dy, float* dx) {
  const float one = 1.f, zero = 0.f;
  check(cudnnPoolingBackward(ctx_.cudnn(), pool_.get(), &one, y_desc_.get(), y, y_desc_.get(), dy, x_desc_.get(), x,
                             &zero, x_desc_.get(), dx),
        "cudnnPoolingBackward");
}

}  // namespace synclab::cuda
