#include "core/backends/cuda/cublas_dense.hpp"

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/kernels.hpp"

namespace synclab::cuda {

// cuBLAS is column-major: a row-major [r, c] matrix is the column-major [c, r] matrix with
// leading dimension c, i.e. its transpose. Every product below is written for the
// transposed (column-major) views, which avoids any explicit transposition.

CublasDense::CublasDense(CudaContext& ctx, std::size_t n, std::size_t in, std::size_t out)
    : ctx_(ctx), n_(static_cast<int>(n)), in_(static_cast<int>(in)), out_(static_cast<int>(out)) {}

void CublasDense::forward(const float* x, const float* weight, const float* bias, float* y) {
  const float one = 1.f, zero = 0.f;
  // y^T [out, n] = W^T [out, in] * x^T [in, n]
  check(cublasSgemm(ctx_.cublas(), CUBLAS_OP_N, CUBLAS_OP_N, out_, n_, in_, &one, weight, out_, x, in_, &zero, y, out_),
        "cublasSgemm (dense forward)");
  bias_add(y, bias, static_cast<std::size_t>(n_), static_cast<std::size_t>(out_), 1, ctx_.stream());
}

void CublasDense::backward(const float* x, const float* weight, const float* dy, float* dx, float* dweight,
                           float* dbias) {
  const float one = 1.f, zero = 0.f;
  // dW^T [out, in] = dy^T [out, n] * x [n, in]
  check(cublasSgemm(ctx_.cublas(), CUBLAS_OP_N, CUBLAS_OP_T, out_, in_, n_, &one, dy, out_, x, in_, &zero, dweight,
                    out_),
        "cublasSgemm (dense weight gradient)");
  bias_grad(dy, dbias, static_cast<std::size_t>(n_), static_cast<std::size_t>(out_), 1, ctx_.stream());
  if (dx == nullptr) return;
  // dx^T [in, n] = W [in, out] * dy^T [out, n]
  check(cublasSgemm(ctx_.cublas(), CUBLAS_OP_T, CUBLAS_OP_N, in_, n_, out_, &one, weight, out_, dy, out_, &zero, dx, in_),
        "cublasSgemm (dense input gradient)");
}

}  // namespace synclab::cuda
