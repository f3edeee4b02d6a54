#pragma once
// Owning buffers of device memory and of pinned (page-locked) host memory. Pinned memory
// lets cudaMemcpyAsync run truly asynchronously on a stream.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "core/backends/cuda/cuda_check.hpp"

namespace synclab::cuda {

/// `size` elements of T in device memory of the current device (uninitialised).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t size) : size_(size) {
    if (size > 0) check(cudaMalloc(reinterpret_cast<void**>(&data_), size * sizeof(T)), "cudaMalloc");
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }
  T* data() const { return data_; }            ///< device pointer
  std::size_t size() const { return size_; }   ///< elements

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

/// `size` elements of T in pinned host memory (uninitialised).
template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t size) : size_(size) {
    if (size > 0) check(cudaMallocHost(reinterpret_cast<void**>(&data_), size * sizeof(T)), "cudaMallocHost");
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }
  T* data() const { return data_; }            ///< host pointer
  std::size_t size() const { return size_; }   ///< elements

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace synclab::cuda
