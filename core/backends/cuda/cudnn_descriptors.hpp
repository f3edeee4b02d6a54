#pragma once
// Owning wrappers of the cuDNN descriptors the backend uses (legacy descriptor API, still
// shipped in cuDNN 9: see docs/cuda.md). All tensors are float NCHW.
#include <cudnn.h>

#include <utility>

namespace synclab::cuda {

/// A descriptor handle with its destroy function; movable, not copyable.
template <class Handle, cudnnStatus_t (*Destroy)(Handle)>
class CudnnDescriptor {
 public:
  CudnnDescriptor() = default;
  explicit CudnnDescriptor(Handle h) : h_(h) {}
  CudnnDescriptor(CudnnDescriptor&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CudnnDescriptor& operator=(CudnnDescriptor&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
  ~CudnnDescriptor() {
    if (h_ != nullptr) Destroy(h_);
  }
  Handle get() const { return h_; }

 private:
  Handle h_ = nullptr;
};

using TensorDesc = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;
using PoolDesc = CudnnDescriptor<cudnnPoolingDescriptor_t, cudnnDestroyPoolingDescriptor>;
using ActivationDesc = CudnnDescriptor<cudnnActivationDescriptor_t, cudnnDestroyActivationDescriptor>;

/// Float NCHW tensor descriptor [n, c, h, w].
TensorDesc make_tensor_desc(int n, int c, int h, int w);
/// Float KCRS filter descriptor [k, c, r, s].
FilterDesc make_filter_desc(int k, int c, int r, int s);

}  // namespace synclab::cuda
