#pragma once
// Softmax cross-entropy over `classes` logits per sample (the loss of every model).
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace synclab::layers {

/// Per-batch results: summed loss and correct argmax predictions (first maximum wins ties).
template <class T>
struct XentResult {
  T loss_sum = T(0);
  std::size_t correct = 0;
};

/// Loss sum over n samples; when dlogits is not null it receives d(mean loss)/d(logits),
/// i.e. (softmax - onehot(label)) / n.
template <class T>
XentResult<T> softmax_xent(const T* logits, const std::uint8_t* labels, std::size_t n, std::size_t classes,
                           T* dlogits) {
  XentResult<T> r;
  for (std::size_t i = 0; i < n; ++i) {
    const T* z = logits + i * classes;
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c)
      if (z[c] > z[best]) best = c;
    if (best == labels[i]) ++r.correct;
    const T zmax = z[best];
    T sum = T(0);
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(z[c] - zmax);
    const T log_sum = std::log(sum);
    r.loss_sum += log_sum - (z[labels[i]] - zmax);
    if (dlogits == nullptr) continue;
    T* d = dlogits + i * classes;
    const T inv_n = T(1) / static_cast<T>(n);
    for (std::size_t c = 0; c < classes; ++c) d[c] = std::exp(z[c] - zmax - log_sum) * inv_n;
    d[labels[i]] -= inv_n;
  }
  return r;
}

}  // namespace synclab::layers
