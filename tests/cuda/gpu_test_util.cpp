#include "tests/cuda/gpu_test_util.hpp"

#include <cmath>
#include <cstdlib>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/common/rng.hpp"

namespace synclab::cuda_test {

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

cuda::DeviceBuffer<float> to_device(const std::vector<float>& host) {
  cuda::DeviceBuffer<float> dev(host.size());
  cuda::check(cudaMemcpy(dev.data(), host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  // A pageable-memory cudaMemcpy may return before the data lands; the ops under test run
  // on a non-blocking stream that would not wait for it.
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return dev;
}

cuda::DeviceBuffer<std::uint8_t> to_device(const std::vector<std::uint8_t>& host) {
  cuda::DeviceBuffer<std::uint8_t> dev(host.size());
  cuda::check(cudaMemcpy(dev.data(), host.data(), host.size(), cudaMemcpyHostToDevice), "cudaMemcpy");
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return dev;
}

std::vector<float> to_host(const cuda::DeviceBuffer<float>& dev) {
  cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<float> host(dev.size());
  cuda::check(cudaMemcpy(host.data(), dev.data(), dev.size() * sizeof(float), cudaMemcpyDeviceToHost), "cudaMemcpy");
  return host;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float atol, float rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t worst = 0, bad = 0;
  double worst_excess = -1.0;
  for (std::size_t j = 0; j < got.size(); ++j) {
    const double excess = std::fabs(double(got[j]) - want[j]) - (atol + rtol * std::fabs(double(want[j])));
    if (excess > 0 || std::isnan(got[j])) ++bad;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = j;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst [" << worst
                     << "] got " << got[worst] << " want " << want[worst];
}

float matmul_rtol() {
  const char* tf32 = std::getenv("SYNCLAB_CUDA_TF32");
  return tf32 != nullptr && std::string(tf32) == "1" ? 2e-2f : 2e-4f;
}

}  // namespace synclab::cuda_test
