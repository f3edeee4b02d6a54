#include "core/backends/cuda/range_packer.hpp"

#include <cuda_runtime_api.h>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/kernels.hpp"

namespace synclab::cuda {

RangePacker::RangePacker(CudaContext& ctx, const std::vector<Range>& ranges) : ctx_(ctx) {
  std::vector<std::size_t> begins, prefix{0};
  // Empty ranges would make the binary search ambiguous; they contribute nothing anyway.
  for (const Range& r : ranges) {
    if (r.size() == 0) continue;
    begins.push_back(r.begin);
    prefix.push_back(prefix.back() + r.size());
  }
  count_ = static_cast<int>(begins.size());
  total_ = prefix.back();
  begins_ = DeviceBuffer<std::size_t>(begins.size());
  prefix_ = DeviceBuffer<std::size_t>(prefix.size());
  // Copied on the context's stream (which does not wait for the legacy default stream) and
  // waited for: the tables are tiny, built once, and the host vectors die with this scope.
  if (!begins.empty()) {
    check(cudaMemcpyAsync(begins_.data(), begins.data(), begins.size() * sizeof(std::size_t), cudaMemcpyHostToDevice,
                          ctx.stream()),
          "cudaMemcpyAsync (range table)");
    check(cudaMemcpyAsync(prefix_.data(), prefix.data(), prefix.size() * sizeof(std::size_t), cudaMemcpyHostToDevice,
                          ctx.stream()),
          "cudaMemcpyAsync (range table)");
    ctx.synchronize();
  }
}

void RangePacker::pack(const float* flat, float* packed) {
  pack_ranges(flat, begins_.data(), prefix_.data(), count_, packed, total_, ctx_.stream());
}

void RangePacker::unpack(const float* packed, float* flat) {
  unpack_ranges(packed, begins_.data(), prefix_.data(), count_, flat, total_, ctx_.stream());
}

}  // namespace synclab::cuda
