#include "core/backends/cuda/kernels.hpp"

#include "core/backends/cuda/cuda_check.hpp"

namespace synclab::cuda {
namespace {

constexpr int kThreads = 256;

// Grid size for a grid-stride loop over `count` elements; capped, since each thread loops.
unsigned blocks_for(std::size_t count) {
  const std::size_t b = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 65535 ? (b == 0 ? 1 : b) : 65535);
}

__global__ void bias_add_kernel(float* y, const float* bias, std::size_t count, std::size_t channels,
                                std::size_t spatial) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count; j += std::size_t(gridDim.x) * blockDim.x)
    y[j] += bias[cuda_math::bias_channel(j, channels, spatial)];
}

// One block per channel; a fixed-shape shared-memory tree keeps the sum order fixed.
__global__ void bias_grad_kernel(const float* dy, float* dbias, std::size_t n, std::size_t channels,
                                 std::size_t spatial) {
  __shared__ float partial[kThreads];
  const std::size_t c = blockIdx.x;
  partial[threadIdx.x] = cuda_math::bias_grad_partial(dy, c, n, channels, spatial, threadIdx.x, kThreads);
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[c] = partial[0];
}

__global__ void softmax_xent_kernel(const float* logits, const std::uint8_t* labels, std::size_t n, int classes,
                                    float* dlogits, float* row_loss, int* row_correct) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const float inv_n = 1.f / static_cast<float>(n);
  const cuda_math::XentRow r = cuda_math::softmax_xent_row(logits + i * classes, labels[i], classes, inv_n,
                                                           dlogits != nullptr ? dlogits + i * classes : nullptr);
  row_loss[i] = r.loss;
  row_correct[i] = r.correct;
}

// A single thread: n is a batch (<= a few thousand), and sample order matches the CPU sum.
__global__ void sum_rows_kernel(const float* row_loss, const int* row_correct, std::size_t n, float* stats) {
  float loss = 0.f;
  long long correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    loss += row_loss[i];
    correct += row_correct[i];
  }
  stats[0] = loss;
  stats[1] = static_cast<float>(correct);
}

__global__ void dropout_kernel(const float* x, const std::uint8_t* keep, float scale, float* y, std::size_t count) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count; j += std::size_t(gridDim.x) * blockDim.x)
    y[j] = cuda_math::dropout_apply(x[j], keep[j], scale);
}

__global__ void sgd_kernel(float* p, const float* g, std::size_t count, float lr, float wd) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count; j += std::size_t(gridDim.x) * blockDim.x)
    cuda_math::sgd_update(p[j], g[j], lr, wd);
}

__global__ void momentum_kernel(float* p, float* v, const float* g, std::size_t count, float lr, float mu, float wd) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count; j += std::size_t(gridDim.x) * blockDim.x)
    cuda_math::momentum_update(p[j], v[j], g[j], lr, mu, wd);
}

__global__ void adam_kernel(float* p, float* m, float* v, const float* g, std::size_t count, cuda_math::AdamStep a) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < count; j += std::size_t(gridDim.x) * blockDim.x)
    cuda_math::adam_update(p[j], m[j], v[j], g[j], a);
}

__global__ void pack_kernel(const float* src, const std::size_t* begins, const std::size_t* prefix, int count,
                            float* dst, std::size_t total) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < total; j += std::size_t(gridDim.x) * blockDim.x)
    dst[j] = src[cuda_math::packed_source_index(begins, prefix, count, j)];
}

__global__ void unpack_kernel(const float* packed, const std::size_t* begins, const std::size_t* prefix, int count,
                              float* dst, std::size_t total) {
  for (std::size_t j = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; j < total; j += std::size_t(gridDim.x) * blockDim.x)
    dst[cuda_math::packed_source_index(begins, prefix, count, j)] = packed[j];
}

void launched(const char* what) { check(cudaGetLastError(), what); }

}  // namespace

void bias_add(float* y, const float* bias, std::size_t n, std::size_t channels, std::size_t spatial, cudaStream_t stream) {
  const std::size_t count = n * channels * spatial;
  if (count == 0) return;
  bias_add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, bias, count, channels, spatial);
  launched("bias_add kernel");
}

void bias_grad(const float* dy, float* dbias, std::size_t n, std::size_t channels, std::size_t spatial,
               cudaStream_t stream) {
  if (channels == 0) return;
  bias_grad_kernel<<<static_cast<unsigned>(channels), kThreads, 0, stream>>>(dy, dbias, n, channels, spatial);
  launched("bias_grad kernel");
}

void softmax_xent(const float* logits, const std::uint8_t* labels, std::size_t n, int classes, float* dlogits,
                  float* row_loss, int* row_correct, cudaStream_t stream) {
  if (n == 0) return;
  const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  softmax_xent_kernel<<<blocks, kThreads, 0, stream>>>(logits, labels, n, classes, dlogits, row_loss, row_correct);
  launched("softmax_xent kernel");
}

void sum_rows(const float* row_loss, const int* row_correct, std::size_t n, float* stats, cudaStream_t stream) {
  sum_rows_kernel<<<1, 1, 0, stream>>>(row_loss, row_correct, n, stats);
  launched("sum_rows kernel");
}

void dropout(const float* x, const std::uint8_t* keep, float p, float* y, std::size_t count, cudaStream_t stream) {
  if (count == 0) return;
  dropout_kernel<<<blocks_for(count), kThreads, 0, stream>>>(x, keep, cuda_math::dropout_scale(p), y, count);
  launched("dropout kernel");
}

void sgd_step(float* params, const float* grad, std::size_t count, float lr, float wd, cudaStream_t stream) {
  if (count == 0) return;
  sgd_kernel<<<blocks_for(count), kThreads, 0, stream>>>(params, grad, count, lr, wd);
  launched("sgd kernel");
}

void momentum_step(float* params, float* velocity, const float* grad, std::size_t count, float lr, float mu, float wd,
                   cudaStream_t stream) {
  if (count == 0) return;
  momentum_kernel<<<blocks_for(count), kThreads, 0, stream>>>(params, velocity, grad, count, lr, mu, wd);
  launched("momentum kernel");
}

void adam_step(float* params, float* m, float* v, const float* grad, std::size_t count, const cuda_math::AdamStep& a,
               cudaStream_t stream) {
  if (count == 0) return;
  adam_kernel<<<blocks_for(count), kThreads, 0, stream>>>(params, m, v, grad, count, a);
  launched("adam kernel");
}

void pack_ranges(const float* src, const std::size_t* begins, const std::size_t* prefix, int count, float* dst,
                 std::size_t total, cudaStream_t stream) {
  if (total == 0 || count == 0) return;
  pack_kernel<<<blocks_for(total), kThreads, 0, stream>>>(src, begins, prefix, count, dst, total);
  launched("pack kernel");
}

void unpack_ranges(const float* packed, const std::size_t* begins, const std::size_t* prefix, int count, float* dst,
                   std::size_t total, cudaStream_t stream) {
  if (total == 0 || count == 0) return;
  unpack_kernel<<<blocks_for(total), kThreads, 0, stream>>>(packed, begins, prefix, count, dst, total);
  launched("unpack kernel");
}

}  // namespace synclab::cuda
