#pragma once
// 2-D convolution, stride 1, SAME padding (odd square kernel, pad k/2 each side), NCHW,
// plain loops (reference math for any scalar type T). weight: [out_c, in_c, k, k], bias: [out_c].
#include <cstddef>

namespace synclab::layers {

/// Shape of one conv2d layer applied to a batch.
struct Conv2dShape {
  std::size_t n = 0, in_c = 0, h = 0, w = 0, out_c = 0, k = 0;
};

/// y[n, out_c, h, w] = bias + correlation of x[n, in_c, h, w] with weight.
template <class T>
void conv2d_forward(const T* x, const T* weight, const T* bias, T* y, const Conv2dShape& s) {
  const long pad = static_cast<long>(s.k / 2), H = static_cast<long>(s.h), W = static_cast<long>(s.w);
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t oc = 0; oc < s.out_c; ++oc) {
      T* yp = y + (i * s.out_c + oc) * s.h * s.w;
      for (long p = 0; p < H * W; ++p) yp[p] = bias[oc];
      for (std::size_t ic = 0; ic < s.in_c; ++ic) {
        const T* xp = x + (i * s.in_c + ic) * s.h * s.w;
        const T* wp = weight + (oc * s.in_c + ic) * s.k * s.k;
        for (long ky = 0; ky < static_cast<long>(s.k); ++ky)
          for (long kx = 0; kx < static_cast<long>(s.k); ++kx) {
            const T wv = wp[ky * static_cast<long>(s.k) + kx];
            for (long oy = 0; oy < H; ++oy) {
              const long iy = oy + ky - pad;
              if (iy < 0 || iy >= H) continue;
              for (long ox = 0; ox < W; ++ox) {
                const long ix = ox + kx - pad;
                if (ix >= 0 && ix < W) yp[oy * W + ox] += wv * xp[iy * W + ix];
              }
            }
          }
      }
    }
}

/// From dy: dweight and dbias (overwritten); dx (overwritten) when not null.
template <class T>
void conv2d_backward(const T* x, const T* weight, const T* dy, T* dx, T* dweight, T* dbias, const Conv2dShape& s) {
  const long pad = static_cast<long>(s.k / 2), H = static_cast<long>(s.h), W = static_cast<long>(s.w);
  const long K = static_cast<long>(s.k);
  for (std::size_t j = 0; j < s.out_c * s.in_c * s.k * s.k; ++j) dweight[j] = T(0);
  for (std::size_t oc = 0; oc < s.out_c; ++oc) dbias[oc] = T(0);
  if (dx != nullptr)
    for (std::size_t j = 0; j < s.n * s.in_c * s.h * s.w; ++j) dx[j] = T(0);
  for (std::size_t i = 0; i < s.n; ++i)
    for (std::size_t oc = 0; oc < s.out_c; ++oc) {
      const T* dyp = dy + (i * s.out_c + oc) * s.h * s.w;
      for (long p = 0; p < H * W; ++p) dbias[oc] += dyp[p];
      for (std::size_t ic = 0; ic < s.in_c; ++ic) {
        const T* xp = x + (i * s.in_c + ic) * s.h * s.w;
        T* dxp = dx != nullptr ? dx + (i * s.in_c + ic) * s.h * s.w : nullptr;
        const T* wp = weight + (oc * s.in_c + ic) * s.k * s.k;
        T* dwp = dweight + (oc * s.in_c + ic) * s.k * s.k;
        for (long ky = 0; ky < K; ++ky)
          for (long kx = 0; kx < K; ++kx) {
            const T wv = wp[ky * K + kx];
            T acc = T(0);
            for (long oy = 0; oy < H; ++oy) {
              const long iy = oy + ky - pad;
              if (iy < 0 || iy >= H) continue;
              for (long ox = 0; ox < W; ++ox) {
                const long ix = ox + kx - pad;
                if (ix < 0 || ix >= W) continue;
                const T g = dyp[oy * W + ox];
                acc += g * xp[iy * W + ix];
                if (dxp != nullptr) dxp[iy * W + ix] += g * wv;
              }
            }
            dwp[ky * K + kx] += acc;
          }
      }
    }
}

}  // namespace synclab::layers
