#include "core/backends/cuda/cuda_context.hpp"

#include <cstdlib>
#include <string>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/cuda_network.hpp"
#include "core/common/error.hpp"

namespace synclab::cuda {
namespace {

// FP32 lanes per SM by architecture (CUDA programming guide, arithmetic throughput table).
int fp32_cores_per_sm(int major, int minor) {
  if (major == 6) return minor == 0 ? 64 : 128;
  if (major == 7) return 64;
  if (major == 8) return minor == 0 ? 64 : 128;
  return 128;  // 9.x (Hopper), 10.x and 12.x (Blackwell)
}

void require_device(int device) {
  const int count = cuda_device_count();
  if (count == 0) throw Error("cuda: no CUDA device is present (asked for GPU " + std::to_string(device) + ")");
  if (device < 0 || device >= count)
    throw Error("cuda: GPU " + std::to_string(device) + " is not present (" + std::to_string(count) + " device(s))");
}

}  // namespace

GpuInfo gpu_info(int device) {
  require_device(device);
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  int clock_khz = 0;
  check(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device), "cudaDeviceGetAttribute(clock rate)");
  GpuInfo info;
  info.name = prop.name;
  info.major = prop.major;
  info.minor = prop.minor;
  info.sms = prop.multiProcessorCount;
  info.clock_hz = clock_khz * 1e3;
  info.fp32_peak = 2.0 * info.sms * fp32_cores_per_sm(info.major, info.minor) * info.clock_hz;
  return info;
}

CudaContext::CudaContext(int device) : device_(device) {
  require_device(device);
  check(cudaSetDevice(device), "cudaSetDevice");
  const char* tf32 = std::getenv("SYNCLAB_CUDA_TF32");
  tf32_ = tf32 != nullptr && std::string(tf32) == "1";
  try {
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudnnCreate(&cudnn_), "cudnnCreate");
    check(cudnnSetStream(cudnn_, stream_), "cudnnSetStream");
    check(cublasCreate(&cublas_), "cublasCreate");
    check(cublasSetStream(cublas_, stream_), "cublasSetStream");
    // Plain FP32 GEMMs unless TF32 was asked for, so results track the CPU reference closely.
    check(cublasSetMathMode(cublas_, tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  } catch (...) {
    release();  // a throwing constructor gets no destructor call
    throw;
  }
}

CudaContext::~CudaContext() { release(); }

void CudaContext::release() noexcept {
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  workspace_ = DeviceBuffer<unsigned char>();
  if (cublas_ != nullptr) cublasDestroy(cublas_);
  if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  cublas_ = nullptr;
  cudnn_ = nullptr;
  stream_ = nullptr;
}

void* CudaContext::workspace(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  if (workspace_.size() < bytes) {
    // The old scratch may still be read by queued work: wait before freeing it.
    synchronize();
    workspace_ = DeviceBuffer<unsigned char>(bytes);
  }
  return workspace_.data();
}

void CudaContext::activate() { check(cudaSetDevice(device_), "cudaSetDevice"); }

void CudaContext::synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

}  // namespace synclab::cuda
