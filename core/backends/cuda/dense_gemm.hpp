#pragma once
// The GEMMs of a fully connected layer in column-major BLAS terms. Shared by the cuBLAS
// layer and a host test that runs the same arguments through CBLAS, so the transposition
// logic is checked without a GPU.
//
// A row-major [r, c] matrix is the column-major [c, r] matrix with leading dimension c, i.e.
// its transpose; every product is written for those transposed views, so nothing is copied.
namespace synclab::cuda {

/// C[m, n] = op(A)[m, k] * op(B)[k, n] (column-major, alpha 1, beta 0).
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int m = 0, n = 0, k = 0;
  int lda = 0, ldb = 0, ldc = 0;
};

/// y^T [out, n] = W^T [out, in] * x^T [in, n]: A = weight, B = x, C = y.
constexpr GemmArgs dense_forward_gemm(int n, int in, int out) { return {false, false, out, n, in, out, in, out}; }

/// dW^T [out, in] = dy^T [out, n] * x [n, in]: A = dy, B = x, C = dweight.
constexpr GemmArgs dense_weight_grad_gemm(int n, int in, int out) { return {false, true, out, in, n, out, in, out}; }

/// dx^T [in, n] = W [in, out] * dy^T [out, n]: A = weight, B = dy, C = dx.
constexpr GemmArgs dense_input_grad_gemm(int n, int in, int out) { return {true, false, in, n, out, out, out, in}; }

}  // namespace synclab::cuda
