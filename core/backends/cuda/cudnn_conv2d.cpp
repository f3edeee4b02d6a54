#include "core/backends/cuda/cudnn_conv2d.hpp"

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/kernels.hpp"
#include "core/common/error.hpp"

namespace synclab::cuda {
namespace {

constexpr std::size_t kWorkspaceLimit = std::size_t(512) << 20;  // per convolution direction

ConvDesc make_conv_desc(int pad, bool tf32) {
  cudnnConvolutionDescriptor_t d = nullptr;
  check(cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor");
  ConvDesc owned(d);
  // Cross-correlation, as the reference computes (no kernel flip).
  check(cudnnSetConvolution2dDescriptor(d, pad, pad, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
        "cudnnSetConvolution2dDescriptor");
  check(cudnnSetConvolutionMathType(d, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
  return owned;
}

bool is_tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// The heuristics list is sorted fastest first; the first usable entry wins. Reproducible
// training needs deterministic kernels (atomics-based backward algorithms are skipped), and
// without TF32 the tensor-core entries are skipped too.
template <class Perf, class Algo>
void pick(const Perf* perf, int returned, bool tf32, cudnnConvolutionDescriptor_t conv, Algo& algo, std::size_t& bytes) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC || p.memory > kWorkspaceLimit) continue;
    if (!tf32 && is_tensor_op(p.mathType)) continue;
    algo = p.algo;
    bytes = p.memory;
    if (tf32) check(cudnnSetConvolutionMathType(conv, p.mathType), "cudnnSetConvolutionMathType");
    return;
  }
  // Otherwise the defaults set in the header stand (implicit GEMM / ALGO_1: deterministic).
}

}  // namespace

CudnnConv2d::CudnnConv2d(CudaContext& ctx, const layers::Conv2dShape& s) : ctx_(ctx), s_(s) {
  const int n = static_cast<int>(s.n), c = static_cast<int>(s.in_c), h = static_cast<int>(s.h),
            w = static_cast<int>(s.w), k = static_cast<int>(s.out_c), r = static_cast<int>(s.k);
  x_desc_ = make_tensor_desc(n, c, h, w);
  y_desc_ = make_tensor_desc(n, k, h, w);
  w_desc_ = make_filter_desc(k, c, r, r);
  fwd_conv_ = make_conv_desc(r / 2, ctx.tf32());
  bwd_data_conv_ = make_conv_desc(r / 2, ctx.tf32());
  bwd_filter_conv_ = make_conv_desc(r / 2, ctx.tf32());

  int on = 0, oc = 0, oh = 0, ow = 0;
  check(cudnnGetConvolution2dForwardOutputDim(fwd_conv_.get(), x_desc_.get(), w_desc_.get(), &on, &oc, &oh, &ow),
        "cudnnGetConvolution2dForwardOutputDim");
  if (on != n || oc != k || oh != h || ow != w)
    throw Error("cudnn: convolution output shape differs from SAME padding (odd kernel expected)");

  constexpr int kMax = 16;
  int returned = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[kMax];
  check(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), x_desc_.get(), w_desc_.get(), fwd_conv_.get(),
                                               y_desc_.get(), kMax, &returned, fwd),
        "cudnnGetConvolutionForwardAlgorithm_v7");
  pick(fwd, returned, ctx.tf32(), fwd_conv_.get(), fwd_algo_, fwd_bytes_);
  cudnnConvolutionBwdDataAlgoPerf_t bwd_data[kMax];
  check(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn(), w_desc_.get(), y_desc_.get(), bwd_data_conv_.get(),
                                                    x_desc_.get(), kMax, &returned, bwd_data),
        "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  pick(bwd_data, returned, ctx.tf32(), bwd_data_conv_.get(), bwd_data_algo_, bwd_data_bytes_);
  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[kMax];
  check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.cudnn(), x_desc_.get(), y_desc_.get(),
                                                      bwd_filter_conv_.get(), w_desc_.get(), kMax, &returned,
                                                      bwd_filter),
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  pick(bwd_filter, returned, ctx.tf32(), bwd_filter_conv_.get(), bwd_filter_algo_, bwd_filter_bytes_);
  // The heuristics' memory figure is an estimate: ask for the exact size of the chosen ones.
  check(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn(), x_desc_.get(), w_desc_.get(), fwd_conv_.get(),
                                                y_desc_.get(), fwd_algo_, &fwd_bytes_),
        "cudnnGetConvolutionForwardWorkspaceSize");
  check(cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.cudnn(), w_desc_.get(), y_desc_.get(), bwd_data_conv_.get(),
                                                     x_desc_.get(), bwd_data_algo_, &bwd_data_bytes_),
        "cudnnGetConvolutionBackwardDataWorkspaceSize");
  check(cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx.cudnn(), x_desc_.get(), y_desc_.get(),
                                                       bwd_filter_conv_.get(), w_desc_.get(), bwd_filter_algo_,
                                                       &bwd_filter_bytes_),
        "cudnnGetConvolutionBackwardFilterWorkspaceSize");
}

void CudnnConv2d::forward(const float* x, const float* weight, const float* bias, float* y) {
  const float one = 1.f, zero = 0.f;
  void* ws = ctx_.workspace(fwd_bytes_);
  check(cudnnConvolutionForward(ctx_.cudnn(), &one, x_desc_.get(), x, w_desc_.get(), weight, fwd_conv_.get(),
                                fwd_algo_, ws, fwd_bytes_, &zero, y_desc_.get(), y),
        "cudnnConvolutionForward");
  bias_add(y, bias, s_.n, s_.out_c, s_.h * s_.w, ctx_.stream());
}

void CudnnConv2d::backward(const float* x, const float* weight, const float* dy, float* dx, float* dweight,
                           float* dbias) {
  const float one = 1.f, zero = 0.f;
  void* ws = ctx_.workspace(bwd_filter_bytes_);
  check(cudnnConvolutionBackwardFilter(ctx_.cudnn(), &one, x_desc_.get(), x, y_desc_.get(), dy,
                                       bwd_filter_conv_.get(), bwd_filter_algo_, ws, bwd_filter_bytes_, &zero,
                                       w_desc_.get(), dweight),
        "cudnnConvolutionBackwardFilter");
  bias_grad(dy, dbias, s_.n, s_.out_c, s_.h * s_.w, ctx_.stream());
  if (dx == nullptr) return;
  ws = ctx_.workspace(bwd_data_bytes_);
  check(cudnnConvolutionBackwardData(ctx_.cudnn(), &one, w_desc_.get(), weight, y_desc_.get(), dy,
                                     bwd_data_conv_.get(), bwd_data_algo_, ws, bwd_data_bytes_, &zero,
                                     x_desc_.get(), dx),
        "cudnnConvolutionBackwardData");
}

}  // namespace synclab::cuda
