#pragma once
// Flat-buffer packing on the device: gathers ranges of a flat parameter/gradient buffer back
// to back (e.g. the slices bound for one parameter-server shard or a subset of blocks) and
// scatters them back.
#include <cstddef>
#include <vector>

#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/device_buffer.hpp"
#include "core/tensor/param_layout.hpp"

namespace synclab::cuda {

class RangePacker {
 public:
  /// Uploads the range table; ranges must not overlap (empty ranges are allowed).
  RangePacker(CudaContext& ctx, const std::vector<Range>& ranges);
  std::size_t total() const { return total_; }  ///< floats in the packed buffer
  /// Enqueues packed[0, total) = the ranges of flat, in order.
  void pack(const float* flat, float* packed);
  /// Enqueues the inverse: the ranges of flat = packed.
  void unpack(const float* packed, float* flat);

 private:
  CudaContext& ctx_;
  int count_ = 0;
  std::size_t total_ = 0;
  DeviceBuffer<std::size_t> begins_, prefix_;
};

}  // namespace synclab::cuda
