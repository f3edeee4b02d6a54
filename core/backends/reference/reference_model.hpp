#pragma once
// The reference backend's math: a ModelSpec run layer by layer with plain loops in scalar
// type T. The float instance backs the "reference" Network; tests instantiate it in double
// for finite-difference gradient checks. This is the ground truth the other backends are
// compared with.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/layers/conv2d.hpp"
#include "core/layers/dense.hpp"
#include "core/layers/dropout.hpp"
#include "core/layers/maxpool.hpp"
#include "core/layers/relu.hpp"
#include "core/layers/sigmoid.hpp"
#include "core/layers/softmax_xent.hpp"
#include "core/models/model_spec.hpp"

namespace synclab {

/// Loss of a batch as the reference model computes it.
template <class T>
struct ReferenceResult {
  T loss_sum = T(0);         ///< summed per-sample loss
  std::size_t correct = 0;   ///< argmax == label
};

template <class T>
class ReferenceModel {
 public:
  explicit ReferenceModel(ModelSpec spec) : spec_(std::move(spec)) {}
  const ModelSpec& spec() const { return spec_; }

  /// Mean loss over the n samples of x [n, input_size] with labels y; when grad is non-empty
  /// (num_params) it receives d(mean loss)/d(params). training=true applies dropout masks
  /// drawn from dropout_seed; false makes dropout the identity.
  T forward_backward(std::span<const T> params, const T* x, const std::uint8_t* y, std::size_t n,
                     std::span<T> grad, std::uint64_t dropout_seed, bool training = true) {
    const ReferenceResult<T> r = run(params, x, y, n, grad, dropout_seed, training);
    return r.loss_sum / static_cast<T>(n);
  }

  /// Inference: summed loss and correct count (dropout off).
  ReferenceResult<T> evaluate(std::span<const T> params, const T* x, const std::uint8_t* y, std::size_t n) {
    return run(params, x, y, n, {}, 0, false);
  }

 private:
  ReferenceResult<T> run(std::span<const T> params, const T* x, const std::uint8_t* y, std::size_t n,
                         std::span<T> grad, std::uint64_t seed, bool training) {
    if (params.size() != spec_.num_params())
      throw std::invalid_argument("reference model: params has " + std::to_string(params.size()) +
                                  " floats, the model needs " + std::to_string(spec_.num_params()));
    const bool backward = !grad.empty();
    if (backward && grad.size() != spec_.num_params())
      throw std::invalid_argument("reference model: grad size does not match the model");
    const std::size_t L = spec_.layers.size();
    // acts[l] is the input of layer l; acts[L] the logits.
    acts_.resize(L + 1);
    acts_[0].assign(x, x + n * spec_.input_size());
    argmax_.resize(L);
    keep_.resize(L);
    for (std::size_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      acts_[l + 1].assign(n * ls.out_size(), T(0));
      forward_layer(l, ls, params.data(), acts_[l].data(), acts_[l + 1].data(), n, seed, training);
    }
    ReferenceResult<T> result;
    std::vector<T> d(backward ? acts_[L].size() : 0);
    const auto xent = layers::softmax_xent(acts_[L].data(), y, n, static_cast<std::size_t>(spec_.classes),
                                           backward ? d.data() : static_cast<T*>(nullptr));
    result.loss_sum = xent.loss_sum;
    result.correct = xent.correct;
    if (!backward) return result;
    for (std::size_t l = L; l-- > 0;) {
      const LayerSpec& ls = spec_.layers[l];
      std::vector<T> dx(l > 0 ? n * ls.in_size() : 0);
      backward_layer(l, ls, params.data(), grad.data(), d.data(), l > 0 ? dx.data() : nullptr, n, training);
      d.swap(dx);
    }
    return result;
  }

  const T* block(const T* base, int index) const { return base + spec_.layout.blocks[static_cast<std::size_t>(index)].offset; }
  T* block(T* base, int index) const { return base + spec_.layout.blocks[static_cast<std::size_t>(index)].offset; }

  static layers::Conv2dShape conv_shape(const LayerSpec& ls, std::size_t n) {
    return {n, static_cast<std::size_t>(ls.in_c), static_cast<std::size_t>(ls.in_h), static_cast<std::size_t>(ls.in_w),
            static_cast<std::size_t>(ls.out_c), static_cast<std::size_t>(ls.kernel)};
  }

  void forward_layer(std::size_t l, const LayerSpec& ls, const T* p, const T* in, T* out, std::size_t n,
                     std::uint64_t seed, bool training) {
    const std::size_t count = n * ls.out_size();
    switch (ls.kind) {
      case LayerKind::Dense:
        layers::dense_forward(in, block(p, ls.weight_block), block(p, ls.bias_block), out, n, ls.in_size(), ls.out_size());
        break;
      case LayerKind::Conv2d:
        layers::conv2d_forward(in, block(p, ls.weight_block), block(p, ls.bias_block), out, conv_shape(ls, n));
        break;
      case LayerKind::MaxPool2x2:
        argmax_[l].resize(count);
        layers::maxpool2x2_forward(in, out, argmax_[l].data(), n * static_cast<std::size_t>(ls.in_c),
                                   static_cast<std::size_t>(ls.in_h), static_cast<std::size_t>(ls.in_w));
        break;
      case LayerKind::Relu: layers::relu_forward(in, out, count); break;
      case LayerKind::Sigmoid: layers::sigmoid_forward(in, out, count); break;
      case LayerKind::Dropout:
        if (!training) {
          std::copy(in, in + count, out);
          break;
        }
        keep_[l].resize(count);
        layers::dropout_mask(seed, l, ls.dropout, count, keep_[l].data());
        layers::dropout_forward(in, keep_[l].data(), ls.dropout, out, count);
        break;
    }
  }

  // dy is d(loss)/d(output of layer l); dx (null for the first layer) receives d/d(input).
  void backward_layer(std::size_t l, const LayerSpec& ls, const T* p, T* g, const T* dy, T* dx, std::size_t n,
                      bool training) {
    const T* in = acts_[l].data();
    const T* out = acts_[l + 1].data();
    const std::size_t count = n * ls.out_size();
    switch (ls.kind) {
      case LayerKind::Dense:
        layers::dense_backward(in, block(p, ls.weight_block), dy, dx, block(g, ls.weight_block), block(g, ls.bias_block),
                               n, ls.in_size(), ls.out_size());
        return;
      case LayerKind::Conv2d:
        layers::conv2d_backward(in, block(p, ls.weight_block), dy, dx, block(g, ls.weight_block), block(g, ls.bias_block),
                                conv_shape(ls, n));
        return;
      default: break;
    }
    if (dx == nullptr) return;  // a parameter-free first layer: nothing to propagate
    switch (ls.kind) {
      case LayerKind::MaxPool2x2:
        layers::maxpool2x2_backward(dy, argmax_[l].data(), dx, n * static_cast<std::size_t>(ls.in_c),
                                    static_cast<std::size_t>(ls.in_h), static_cast<std::size_t>(ls.in_w));
        break;
      case LayerKind::Relu: layers::relu_backward(out, dy, dx, count); break;
      case LayerKind::Sigmoid: layers::sigmoid_backward(out, dy, dx, count); break;
      case LayerKind::Dropout:
        if (training) layers::dropout_backward(dy, keep_[l].data(), ls.dropout, dx, count);
        else std::copy(dy, dy + count, dx);
        break;
      default: break;
    }
  }

  ModelSpec spec_;
  std::vector<std::vector<T>> acts_;
  std::vector<std::vector<std::uint32_t>> argmax_;
  std::vector<std::vector<std::uint8_t>> keep_;
};

}  // namespace synclab
