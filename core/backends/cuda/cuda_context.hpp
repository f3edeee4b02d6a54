#pragma once
// One GPU as the cuda backend uses it: the device, one stream, cuDNN and cuBLAS handles
// bound to that stream, and a shared, growing scratch workspace for cuDNN.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "core/backends/cuda/device_buffer.hpp"

namespace synclab::cuda {

/// Facts about a GPU for logs and benchmarks.
struct GpuInfo {
  std::string name;          ///< e.g. "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;  ///< compute capability
  int sms = 0;               ///< streaming multiprocessors
  double clock_hz = 0;       ///< boost clock
  double fp32_peak = 0;      ///< FP32 FMA peak flop/s (non-tensor) from SMs x cores x clock x 2
};

/// Reads the properties of GPU `device`; throws Error when it is not present.
GpuInfo gpu_info(int device);

class CudaContext {
 public:
  /// Selects GPU `device` (throws Error in one line when absent) and creates stream and handles.
  /// TF32 tensor-core math is off unless the environment sets SYNCLAB_CUDA_TF32=1.
  explicit CudaContext(int device);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }              ///< GPU ordinal
  cudaStream_t stream() const { return stream_; }     ///< every operation runs on this stream
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  bool tf32() const { return tf32_; }                 ///< TF32 allowed in convolutions and GEMMs
  /// Scratch memory of at least `bytes` for the operation about to be enqueued on stream().
  void* workspace(std::size_t bytes);
  /// Blocks until the stream is idle; throws Error on an asynchronous failure.
  void synchronize();
  /// Makes this GPU current for the calling thread (each entry point calls it: the caller's
  /// thread may differ from the constructing one, and the CUDA current device is per thread).
  void activate();

 private:
  void release() noexcept;  // destroys handles, stream and workspace (idempotent)
  int device_;
  bool tf32_ = false;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer<unsigned char> workspace_;
};

}  // namespace synclab::cuda
