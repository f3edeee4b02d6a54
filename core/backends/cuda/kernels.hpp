#pragma once
// Launchers of the backend's own CUDA kernels (kernels.cu). All enqueue on `stream` and
// take device pointers; the per-element math is in elementwise.hpp.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "core/backends/cuda/elementwise.hpp"

namespace synclab::cuda {

/// y[n, channels, spatial] += bias[channel].
void bias_add(float* y, const float* bias, std::size_t n, std::size_t channels, std::size_t spatial, cudaStream_t stream);
/// dbias[c] = sum of dy over samples and positions of channel c (overwritten, deterministic).
void bias_grad(const float* dy, float* dbias, std::size_t n, std::size_t channels, std::size_t spatial,
               cudaStream_t stream);
/// Per-sample softmax cross-entropy of logits[n, classes]: row_loss[i], row_correct[i], and
/// dlogits = d(mean loss)/d(logits) when not null.
void softmax_xent(const float* logits, const std::uint8_t* labels, std::size_t n, int classes, float* dlogits,
                  float* row_loss, int* row_correct, cudaStream_t stream);
/// stats[0] = sum of row_loss, stats[1] = sum of row_correct, both in sample order.
void sum_rows(const float* row_loss, const int* row_correct, std::size_t n, float* stats, cudaStream_t stream);
/// y = x * keep / (1 - p) (the forward and the backward of inverted dropout); y may alias x.
void dropout(const float* x, const std::uint8_t* keep, float p, float* y, std::size_t count, cudaStream_t stream);
/// Optimizer updates over `count` parameters (see elementwise.hpp for the formulas).
void sgd_step(float* params, const float* grad, std::size_t count, float lr, float wd, cudaStream_t stream);
void momentum_step(float* params, float* velocity, const float* grad, std::size_t count, float lr, float mu, float wd,
                   cudaStream_t stream);
void adam_step(float* params, float* m, float* v, const float* grad, std::size_t count, const cuda_math::AdamStep& a,
               cudaStream_t stream);
/// dst[j] = src[packed_source_index(j)] for j < prefix[count]: gathers ranges of a flat
/// buffer back to back. begins and prefix are device arrays (count and count + 1 entries).
void pack_ranges(const float* src, const std::size_t* begins, const std::size_t* prefix, int count, float* dst,
                 std::size_t total, cudaStream_t stream);
/// The inverse of pack_ranges: src[packed_source_index(j)] = packed[j].
void unpack_ranges(const float* packed, const std::size_t* begins, const std::size_t* prefix, int count, float* dst,
                   std::size_t total, cudaStream_t stream);

}  // namespace synclab::cuda
