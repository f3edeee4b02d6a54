#pragma once
// Helpers of the GPU test suite: skipping without a GPU, host<->device copies, comparisons.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backends/cuda/cuda_network.hpp"
#include "core/backends/cuda/device_buffer.hpp"

namespace synclab::cuda_test {

/// Skips the current test, with a message, when no CUDA device is present.
#define SYNCLAB_REQUIRE_GPU()                                                           \
  do {                                                                                   \
    if (::synclab::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present"; \
  } while (0)

/// n normally distributed floats (scale * N(0,1)) from seed.
std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale = 1.0);

/// A device buffer holding a copy of host (synchronous).
cuda::DeviceBuffer<float> to_device(const std::vector<float>& host);
cuda::DeviceBuffer<std::uint8_t> to_device(const std::vector<std::uint8_t>& host);
/// A host copy of a device buffer after the device is idle.
std::vector<float> to_host(const cuda::DeviceBuffer<float>& dev);

/// Expects |got - want| <= atol + rtol * |want| elementwise, reporting the worst element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, float atol, float rtol,
                  const std::string& what);

/// Relative tolerance for convolutions and GEMMs: FP32 by default, looser under TF32.
float matmul_rtol();

}  // namespace synclab::cuda_test
