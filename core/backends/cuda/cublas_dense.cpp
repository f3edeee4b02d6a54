#include "core/backends/cuda/cublas_dense.hpp"

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/dense_gemm.hpp"
#include "core/backends/cuda/kernels.hpp"

namespace synclab::cuda {
namespace {

void gemm(cublasHandle_t handle, const GemmArgs& g, const float* a, const float* b, float* c, const char* what) {
  const float one = 1.f, zero = 0.f;
  check(cublasSgemm(handle, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.m, g.n, g.k,
                    &one, a, g.lda, b, g.ldb, &zero, c, g.ldc),
        what);
}

}  // namespace

CublasDense::CublasDense(CudaContext& ctx, std::size_t n, std::size_t in, std::size_t out)
    : ctx_(ctx), n_(static_cast<int>(n)), in_(static_cast<int>(in)), out_(static_cast<int>(out)) {}

void CublasDense::forward(const float* x, const float* weight, const float* bias, float* y) {
  gemm(ctx_.cublas(), dense_forward_gemm(n_, in_, out_), weight, x, y, "cublasSgemm (dense forward)");
  bias_add(y, bias, static_cast<std::size_t>(n_), static_cast<std::size_t>(out_), 1, ctx_.stream());
}

void CublasDense::backward(const float* x, const float* weight, const float* dy, float* dx, float* dweight,
                           float* dbias) {
  gemm(ctx_.cublas(), dense_weight_grad_gemm(n_, in_, out_), dy, x, dweight, "cublasSgemm (dense weight gradient)");
  bias_grad(dy, dbias, static_cast<std::size_t>(n_), static_cast<std::size_t>(out_), 1, ctx_.stream());
  if (dx == nullptr) return;
  gemm(ctx_.cublas(), dense_input_grad_gemm(n_, in_, out_), weight, dy, dx, "cublasSgemm (dense input gradient)");
}

}  // namespace synclab::cuda
