#pragma once
// Fully connected layer through cuBLAS SGEMM: x [n, in], weight [in, out] row-major,
// bias [out], y [n, out]; the bias by the backend's own kernels.
#include <cstddef>

#include "core/backends/cuda/cuda_context.hpp"

namespace synclab::cuda {

class CublasDense {
 public:
  CublasDense(CudaContext& ctx, std::size_t n, std::size_t in, std::size_t out);
  /// y = x weight + bias.
  void forward(const float* x, const float* weight, const float* bias, float* y);
  /// dweight = x^T dy, dbias = column sums of dy (overwritten); dx = dy weight^T when not null.
  void backward(const float* x, const float* weight, const float* dy, float* dx, float* dweight, float* dbias);

 private:
  CudaContext& ctx_;
  int n_, in_, out_;
};

}  // namespace synclab::cuda
