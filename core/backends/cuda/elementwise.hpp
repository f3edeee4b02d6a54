#pragma once
// Element-wise math of the cuda backend as plain inline functions marked __host__ __device__
// under nvcc: the kernels call them on the GPU and the host tests call the very same
// functions on the CPU to compare them with the reference backend (no GPU needed).
#include <math.h>

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define SYNCLAB_HD __host__ __device__ inline
#else
#define SYNCLAB_HD inline
#endif

namespace synclab::cuda_math {

/// Channel of element j of an [n, channels, spatial] tensor (dense layers: spatial = 1).
SYNCLAB_HD std::size_t bias_channel(std::size_t j, std::size_t channels, std::size_t spatial) {
  return (j / spatial) % channels;
}

/// Partial sum for dbias[c] over the n * spatial elements of channel c of dy, taking the
/// elements k = first, first + stride, ... (k counts sample-major); a kernel block uses one
/// partial per thread and then a fixed-order tree, so the sum is deterministic.
SYNCLAB_HD float bias_grad_partial(const float* dy, std::size_t c, std::size_t n, std::size_t channels,
                                   std::size_t spatial, std::size_t first, std::size_t stride) {
  float acc = 0.f;
  const std::size_t total = n * spatial;
  for (std::size_t k = first; k < total; k += stride) {
    const std::size_t i = k / spatial, s = k % spatial;
    acc += dy[(i * channels + c) * spatial + s];
  }
  return acc;
}

/// Loss and correctness of one sample of softmax cross-entropy.
struct XentRow {
  float loss = 0.f;
  int correct = 0;
};

/// One sample: z are `classes` logits; when d is not null it receives (softmax - onehot) * inv_n
/// (inv_n = 1 / batch size), as the reference's d(mean loss)/d(logits). First maximum wins ties.
SYNCLAB_HD XentRow softmax_xent_row(const float* z, int label, int classes, float inv_n, float* d) {
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (z[c] > z[best]) best = c;
  const float zmax = z[best];
  float sum = 0.f;
  for (int c = 0; c < classes; ++c) sum += expf(z[c] - zmax);
  const float log_sum = logf(sum);
  XentRow r;
  r.loss = log_sum - (z[label] - zmax);
  r.correct = best == label ? 1 : 0;
  if (d != nullptr) {
    for (int c = 0; c < classes; ++c) d[c] = expf(z[c] - zmax - log_sum) * inv_n;
    d[label] -= inv_n;
  }
  return r;
}

/// Inverted dropout scale 1 / (1 - p), computed as the CPU backends do.
SYNCLAB_HD float dropout_scale(float p) { return 1.f / (1.f - p); }

/// y = x * scale where the mask keeps the element, else 0 (forward and backward alike).
SYNCLAB_HD float dropout_apply(float x, std::uint8_t keep, float scale) { return keep ? x * scale : 0.f; }

/// Plain SGD on one parameter (weight decay wd adds wd * p to the gradient).
SYNCLAB_HD void sgd_update(float& p, float g, float lr, float wd) {
  if (wd == 0.f) p -= lr * g;
  else p -= lr * (g + wd * p);
}

/// Heavy-ball momentum on one parameter: v = mu v + g', p -= lr v.
SYNCLAB_HD void momentum_update(float& p, float& v, float g, float lr, float mu, float wd) {
  v = mu * v + (g + wd * p);
  p -= lr * v;
}

/// Per-step constants of Adam, computed once on the host in double like the CPU optimizer.
struct AdamStep {
  float beta1 = 0.9f, beta2 = 0.999f;
  float step = 0.f;          ///< lr * lr_scale / (1 - beta1^t)
  float inv_sqrt_bc2 = 1.f;  ///< 1 / sqrt(1 - beta2^t)
  float eps = 1e-8f, wd = 0.f;
};

/// Adam on one parameter with bias correction folded into AdamStep.
SYNCLAB_HD void adam_update(float& p, float& m, float& v, float g, const AdamStep& a) {
  const float gi = g + a.wd * p;
  m = a.beta1 * m + (1.f - a.beta1) * gi;
  v = a.beta2 * v + (1.f - a.beta2) * gi * gi;
  p -= a.step * m / (sqrtf(v) * a.inv_sqrt_bc2 + a.eps);
}

/// Flat-buffer packing: element j of the packed buffer of `count` ranges comes from
/// source index begins[r] + (j - prefix[r]), where prefix[r] <= j < prefix[r + 1]
/// (prefix has count + 1 entries, prefix[0] = 0). Binary search over the ranges.
SYNCLAB_HD std::size_t packed_source_index(const std::size_t* begins, const std::size_t* prefix, int count,
                                           std::size_t j) {
  int lo = 0, hi = count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (prefix[mid] <= j) lo = mid;
    else hi = mid - 1;
  }
  return begins[lo] + (j - prefix[lo]);
}

}  // namespace synclab::cuda_math
