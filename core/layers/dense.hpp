#pragma once
// Fully connected layer, plain loops (reference math for any scalar type T).
// x: [n, in], weight: [in, out] row-major, bias: [out], y: [n, out].
#include <cstddef>

namespace synclab::layers {

/// y = x * weight + bias.
template <class T>
void dense_forward(const T* x, const T* weight, const T* bias, T* y, std::size_t n, std::size_t in, std::size_t out) {
  for (std::size_t i = 0; i < n; ++i) {
    T* yi = y + i * out;
    for (std::size_t o = 0; o < out; ++o) yi[o] = bias[o];
    for (std::size_t k = 0; k < in; ++k) {
      const T xik = x[i * in + k];
      const T* wk = weight + k * out;
      for (std::size_t o = 0; o < out; ++o) yi[o] += xik * wk[o];
    }
  }
}

/// From dy: dweight = x^T dy, dbias = column sums of dy (both overwritten); dx = dy weight^T
/// when dx is not null.
template <class T>
void dense_backward(const T* x, const T* weight, const T* dy, T* dx, T* dweight, T* dbias, std::size_t n,
                    std::size_t in, std::size_t out) {
  for (std::size_t j = 0; j < in * out; ++j) dweight[j] = T(0);
  for (std::size_t o = 0; o < out; ++o) dbias[o] = T(0);
  for (std::size_t i = 0; i < n; ++i) {
    const T* dyi = dy + i * out;
    for (std::size_t o = 0; o < out; ++o) dbias[o] += dyi[o];
    for (std::size_t k = 0; k < in; ++k) {
      const T xik = x[i * in + k];
      T* dwk = dweight + k * out;
      for (std::size_t o = 0; o < out; ++o) dwk[o] += xik * dyi[o];
    }
    if (dx == nullptr) continue;
    for (std::size_t k = 0; k < in; ++k) {
      const T* wk = weight + k * out;
      T sum = T(0);
      for (std::size_t o = 0; o < out; ++o) sum += dyi[o] * wk[o];
      dx[i * in + k] = sum;
    }
  }
}

}  // namespace synclab::layers
