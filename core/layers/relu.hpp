#pragma once
// Rectified linear unit, elementwise.
#include <cstddef>

namespace synclab::layers {

/// y = max(x, 0); y may alias x.
template <class T>
void relu_forward(const T* x, T* y, std::size_t count) {
  for (std::size_t j = 0; j < count; ++j) y[j] = x[j] > T(0) ? x[j] : T(0);
}

/// dx = dy where the output y is positive, else 0 (the derivative at 0 is taken as 0); dx may alias dy.
template <class T>
void relu_backward(const T* y, const T* dy, T* dx, std::size_t count) {
  for (std::size_t j = 0; j < count; ++j) dx[j] = y[j] > T(0) ? dy[j] : T(0);
}

}  // namespace synclab::layers
