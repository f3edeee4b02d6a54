#include "core/backends/cuda/cudnn_descriptors.hpp"

#include "core/backends/cuda/cuda_check.hpp"

namespace synclab::cuda {

TensorDesc make_tensor_desc(int n, int c, int h, int w) {
  cudnnTensorDescriptor_t d = nullptr;
  check(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor");
  TensorDesc owned(d);
  check(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), "cudnnSetTensor4dDescriptor");
  return owned;
}

FilterDesc make_filter_desc(int k, int c, int r, int s) {
  cudnnFilterDescriptor_t d = nullptr;
  check(cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor");
  FilterDesc owned(d);
  check(cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, r, s), "cudnnSetFilter4dDescriptor");
  return owned;
}

}  // namespace synclab::cuda
