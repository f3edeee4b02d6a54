#pragma once
// Logistic sigmoid, elementwise.
#include <cmath>
#include <cstddef>

namespace synclab::layers {

/// y = 1 / (1 + exp(-x)); y may alias x.
template <class T>
void sigmoid_forward(const T* x, T* y, std::size_t count) {
  for (std::size_t j = 0; j < count; ++j) y[j] = T(1) / (T(1) + std::exp(-x[j]));
}

/// dx = dy * y * (1 - y), from the output y; dx may alias dy.
template <class T>
void sigmoid_backward(const T* y, const T* dy, T* dx, std::size_t count) {
  for (std::size_t j = 0; j < count; ++j) dx[j] = dy[j] * y[j] * (T(1) - y[j]);
}

}  // namespace synclab::layers
