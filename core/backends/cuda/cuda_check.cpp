#include "core/backends/cuda/cuda_check.hpp"

#include <string>

#include "core/common/error.hpp"

namespace synclab::cuda {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  // Clears the sticky "last error" so a later, unrelated check does not report it again.
  cudaGetLastError();
  throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(status));
}

void check(cudnnStatus_t status, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  throw Error(std::string("cudnn: ") + what + ": " + cudnnGetErrorString(status));
}

void check(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(std::string("cublas: ") + what + ": " + cublasGetStatusString(status));
}

}  // namespace synclab::cuda
