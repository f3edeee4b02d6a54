#pragma once
// Status checks of the CUDA runtime, cuDNN and cuBLAS: a failure becomes an Error whose
// one-line message names the call and the library's own reason.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

namespace synclab::cuda {

/// Throws Error("cuda: <what>: <reason>") unless status is cudaSuccess.
void check(cudaError_t status, const char* what);
/// Throws Error("cudnn: <what>: <reason>") unless status is CUDNN_STATUS_SUCCESS.
void check(cudnnStatus_t status, const char* what);
/// Throws Error("cublas: <what>: <reason>") unless status is CUBLAS_STATUS_SUCCESS.
void check(cublasStatus_t status, const char* what);

}  // namespace synclab::cuda
