#pragma once
// Inverted dropout: in training each element is kept with probability 1 - p and scaled by
// 1 / (1 - p); at inference the layer is the identity. Every backend draws its mask with
// dropout_mask(), so the same seed drops the same elements everywhere.
#include <cstddef>
#include <cstdint>

namespace synclab::layers {

/// keep[j] = 1 (keep) or 0 (drop) for j < count, drawn from (seed, layer); p in [0, 1).
void dropout_mask(std::uint64_t seed, std::size_t layer, float p, std::size_t count, std::uint8_t* keep);

/// y = x * keep / (1 - p); y may alias x.
template <class T>
void dropout_forward(const T* x, const std::uint8_t* keep, float p, T* y, std::size_t count) {
  const T scale = T(1) / (T(1) - T(p));
  for (std::size_t j = 0; j < count; ++j) y[j] = keep[j] ? x[j] * scale : T(0);
}

/// dx = dy * keep / (1 - p); dx may alias dy.
template <class T>
void dropout_backward(const T* dy, const std::uint8_t* keep, float p, T* dx, std::size_t count) {
  dropout_forward(dy, keep, p, dx, count);
}

}  // namespace synclab::layers
