#pragma once
// An activation of the fast backend: values and their gradient in one oneDNN memory layout
// (plain NCHW / NC, or a blocked layout a oneDNN primitive chose). Buffers are allocated
// once per batch size and reused every step.
#include <cstddef>

#include <oneapi/dnnl/dnnl.hpp>

namespace synclab::fast {

/// Shared by all ops of one network.
struct FastContext {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

struct FastTensor {
  dnnl::memory::desc desc;  ///< layout of value and grad
  dnnl::memory value;       ///< activations
  dnnl::memory grad;        ///< d(loss)/d(value); empty for the network input
  float* data() const { return static_cast<float*>(value.get_data_handle()); }
  float* diff() const { return static_cast<float*>(grad.get_data_handle()); }
  /// Logical element count (product of dims).
  std::size_t count() const;
  /// True when the layout is row-major NCHW (4-D) or NC (2-D).
  bool plain() const;
};

/// Plain row-major descriptor for dims (2-D: nc, 4-D: nchw).
dnnl::memory::desc plain_desc(const dnnl::memory::dims& dims);

/// A tensor with library-allocated value (and grad when with_grad) buffers.
FastTensor make_tensor(const FastContext& ctx, const dnnl::memory::desc& desc, bool with_grad);

}  // namespace synclab::fast
