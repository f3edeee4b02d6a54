#pragma once
// 2x2 max pooling, stride 2, NCHW, through cuDNN (deterministic max mode; trailing odd
// rows/columns are dropped as in the reference).
#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cudnn_descriptors.hpp"

namespace synclab::cuda {

class CudnnMaxPool2x2 {
 public:
  /// Input [n, c, h, w], output [n, c, h/2, w/2].
  CudnnMaxPool2x2(CudaContext& ctx, int n, int c, int h, int w);
  /// y = max over each 2x2 window of x.
  void forward(const float* x, float* y);
  /// dx (overwritten) receives dy at each window's maximum, found again from x and y.
  void backward(const float* x, const float* y, const float* dy, float* dx);

 private:
  CudaContext& ctx_;
  TensorDesc x_desc_, y_desc_;
  PoolDesc pool_;
};

}  // namespace synclab::cuda
