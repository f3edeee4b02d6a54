#pragma once
// 2-D convolution (stride 1, SAME padding, NCHW, weight [out_c, in_c, k, k]) through cuDNN:
// forward, backward data and backward filter, with deterministic algorithms chosen once
// per shape; the bias is added and reduced by the backend's own kernels.
#include <cudnn.h>

#include <cstddef>

#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cudnn_descriptors.hpp"
#include "core/layers/conv2d.hpp"

namespace synclab::cuda {

class CudnnConv2d {
 public:
  /// Builds descriptors for shape s and picks the fastest deterministic algorithm per
  /// direction that fits the workspace limit (FP32 FMA math unless ctx.tf32()).
  CudnnConv2d(CudaContext& ctx, const layers::Conv2dShape& s);
  /// y = bias + correlation of x with weight (device pointers).
  void forward(const float* x, const float* weight, const float* bias, float* y);
  /// dweight and dbias (overwritten) from dy; dx (overwritten) when not null.
  void backward(const float* x, const float* weight, const float* dy, float* dx, float* dweight, float* dbias);
  const layers::Conv2dShape& shape() const { return s_; }

 private:
  CudaContext& ctx_;
  layers::Conv2dShape s_;
  TensorDesc x_desc_, y_desc_;
  FilterDesc w_desc_;
  ConvDesc fwd_conv_, bwd_data_conv_, bwd_filter_conv_;
  cudnnConvolutionFwdAlgo_t fwd_algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo_ = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo_ = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
  std::size_t fwd_bytes_ = 0, bwd_data_bytes_ = 0, bwd_filter_bytes_ = 0;
};

}  // namespace synclab::cuda
