#pragma once
// 2x2 max pooling, stride 2, NCHW (odd trailing rows/columns are dropped), plain loops.
#include <cstddef>
#include <cstdint>

namespace synclab::layers {

/// y[n, c, h/2, w/2] = max over each 2x2 window; argmax[j] = index into x of output j's
/// maximum (the first one in row-major window order on ties).
template <class T>
void maxpool2x2_forward(const T* x, T* y, std::uint32_t* argmax, std::size_t planes, std::size_t h, std::size_t w) {
  const std::size_t oh = h / 2, ow = w / 2;
  for (std::size_t p = 0; p < planes; ++p)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        std::size_t best = (p * h + 2 * oy) * w + 2 * ox;
        for (std::size_t dy = 0; dy < 2; ++dy)
          for (std::size_t dx = 0; dx < 2; ++dx) {
            const std::size_t j = (p * h + 2 * oy + dy) * w + 2 * ox + dx;
            if (x[j] > x[best]) best = j;
          }
        const std::size_t o = (p * oh + oy) * ow + ox;
        y[o] = x[best];
        argmax[o] = static_cast<std::uint32_t>(best);
      }
}

/// dx (size planes*h*w, overwritten) receives dy at each window's argmax, zero elsewhere.
template <class T>
void maxpool2x2_backward(const T* dy, const std::uint32_t* argmax, T* dx, std::size_t planes, std::size_t h,
                         std::size_t w) {
  for (std::size_t j = 0; j < planes * h * w; ++j) dx[j] = T(0);
  const std::size_t outputs = planes * (h / 2) * (w / 2);
  for (std::size_t o = 0; o < outputs; ++o) dx[argmax[o]] += dy[o];
}

}  // namespace synclab::layers
