#include "core/backends/cuda/cuda_network.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/backends/batch_checks.hpp"
#include "core/backends/cuda/batch_staging.hpp"
#include "core/backends/cuda/cublas_dense.hpp"
#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cuda_event.hpp"
#include "core/backends/cuda/cudnn_activation.hpp"
#include "core/backends/cuda/cudnn_conv2d.hpp"
#include "core/backends/cuda/cudnn_maxpool.hpp"
#include "core/backends/cuda/device_buffer.hpp"
#include "core/backends/cuda/kernels.hpp"
#include "core/common/error.hpp"

namespace synclab {

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return count;
}

namespace cuda {
namespace {

// The cuDNN/cuBLAS operation of one layer for one batch size (dropout needs none).
struct LayerOp {
  std::unique_ptr<CudnnConv2d> conv;
  std::unique_ptr<CublasDense> dense;
  std::unique_ptr<CudnnMaxPool2x2> pool;
  std::unique_ptr<CudnnActivation> act;
};

class CudaNetwork final : public Network {
 public:
  CudaNetwork(const ModelSpec& spec, const NetworkOptions& options)
      : ctx_(options.device), spec_(spec), max_batch_(std::max<std::size_t>(options.max_batch, 1)) {
    const std::size_t P = spec_.num_params(), L = spec_.layers.size();
    params_ = DeviceBuffer<float>(P);
    grad_ = DeviceBuffer<float>(P + 2);  // the gradient, then loss sum and correct count
    host_params_ = PinnedBuffer<float>(P);
    host_grad_ = PinnedBuffer<float>(P + 2);
    const StagedLayout full = staged_layout(spec_, max_batch_, true);
    host_in_ = PinnedBuffer<unsigned char>(full.bytes);
    in_ = DeviceBuffer<unsigned char>(full.bytes);
    acts_.resize(L + 1);
    std::size_t widest = 0;
    for (std::size_t l = 0; l < L; ++l) {
      acts_[l + 1] = DeviceBuffer<float>(max_batch_ * spec_.layers[l].out_size());
      widest = std::max({widest, spec_.layers[l].in_size(), spec_.layers[l].out_size()});
    }
    delta_[0] = DeviceBuffer<float>(max_batch_ * widest);
    delta_[1] = DeviceBuffer<float>(max_batch_ * widest);
    row_loss_ = DeviceBuffer<float>(max_batch_);
    row_correct_ = DeviceBuffer<int>(max_batch_);
    stats_ = DeviceBuffer<float>(2);
    host_stats_ = PinnedBuffer<float>(2);
    pushed_.resize(L);
    ops_for(max_batch_);  // descriptors and algorithms of the training size: errors surface here
  }

  const ModelSpec& spec() const override { return spec_; }
  BackendKind kind() const override { return BackendKind::Cuda; }

  float forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grad,
                         std::uint64_t dropout_seed) override {
    check_network_args(spec_, params, batch);
    check_grad_size(spec_, grad);
    check_batch(batch.n);
    ctx_.activate();
    const std::size_t n = batch.n, P = spec_.num_params();
    const StagedLayout staged = stage(batch, true, dropout_seed);
    std::vector<LayerOp>& ops = ops_for(n);
    const std::vector<const float*> act = forward(ops, staged, n, true, params.data());
    const auto* labels = in_.data() + staged.labels;
    softmax_xent(act.back(), labels, n, spec_.classes, delta_[0].data(), row_loss_.data(), row_correct_.data(),
                 ctx_.stream());
    sum_rows(row_loss_.data(), row_correct_.data(), n, grad_.data() + P, ctx_.stream());
    check(cudaMemcpyAsync(host_grad_.data() + P, grad_.data() + P, 2 * sizeof(float), cudaMemcpyDeviceToHost,
                          ctx_.stream()),
          "cudaMemcpyAsync (loss to host)");
    backward(ops, staged, act, n);
    // Collect each layer's gradient as soon as it is on the host, in the order backward made them.
    for (std::size_t l = spec_.layers.size(); l-- > 0;) {
      const LayerSpec& ls = spec_.layers[l];
      if (ls.weight_block < 0) continue;
      pushed_[l].wait();
      for (const int index : {ls.weight_block, ls.bias_block}) {
        if (index < 0) continue;
        const ParamBlock& b = spec_.layout.blocks[static_cast<std::size_t>(index)];
        std::memcpy(grad.data() + b.offset, host_grad_.data() + b.offset, b.count * sizeof(float));
      }
    }
    ctx_.synchronize();
    return host_grad_.data()[P] / static_cast<float>(n);
  }

  EvalStats evaluate(std::span<const float> params, const Batch& batch) override {
    check_network_args(spec_, params, batch);
    ctx_.activate();
    EvalStats stats;
    for (std::size_t first = 0; first < batch.n; first += max_batch_) {
      const std::size_t n = std::min(max_batch_, batch.n - first);
      const Batch part{batch.x + first * spec_.input_size(), batch.y + first, n};
      const StagedLayout staged = stage(part, false, 0);
      std::vector<LayerOp>& ops = ops_for(n);
      // The parameters are pulled with the first chunk only.
      const std::vector<const float*> act = forward(ops, staged, n, false, first == 0 ? params.data() : nullptr);
      softmax_xent(act.back(), in_.data() + staged.labels, n, spec_.classes, nullptr, row_loss_.data(),
                   row_correct_.data(), ctx_.stream());
      sum_rows(row_loss_.data(), row_correct_.data(), n, stats_.data(), ctx_.stream());
      check(cudaMemcpyAsync(host_stats_.data(), stats_.data(), 2 * sizeof(float), cudaMemcpyDeviceToHost,
                            ctx_.stream()),
            "cudaMemcpyAsync (evaluation to host)");
      ctx_.synchronize();
      stats.loss_sum += host_stats_.data()[0];
      stats.correct += static_cast<std::size_t>(host_stats_.data()[1]);
    }
    stats.count = batch.n;
    return stats;
  }

 private:
  void check_batch(std::size_t n) const {
    if (n > max_batch_)
      throw Error("network " + spec_.name + ": batch of " + std::to_string(n) + " exceeds max_batch " +
                  std::to_string(max_batch_));
  }

  // The pull, block by block: each parameter block goes through pinned memory and one
  // asynchronous copy just before the first layer that reads it is queued, so the host's
  // copying of the large later blocks (fc1) overlaps the GPU's work on the early layers.
  // Every parameter still crosses exactly once per pull.
  void pull_block(const float* params, int index) {
    if (index < 0) return;
    const ParamBlock& b = spec_.layout.blocks[static_cast<std::size_t>(index)];
    std::memcpy(host_params_.data() + b.offset, params + b.offset, b.count * sizeof(float));
    check(cudaMemcpyAsync(params_.data() + b.offset, host_params_.data() + b.offset, b.count * sizeof(float),
                          cudaMemcpyHostToDevice, ctx_.stream()),
          "cudaMemcpyAsync (parameters to device)");
  }

  // The push, layer by layer: a layer's gradient blocks are queued for the host right after
  // its backward, and an event tells the host when they have arrived, so the host copies
  // them out while the GPU is still on the earlier layers. Once per gradient float.
  void push_layer(std::size_t l) {
    const LayerSpec& ls = spec_.layers[l];
    for (const int index : {ls.weight_block, ls.bias_block}) {
      if (index < 0) continue;
      const ParamBlock& b = spec_.layout.blocks[static_cast<std::size_t>(index)];
      check(cudaMemcpyAsync(host_grad_.data() + b.offset, grad_.data() + b.offset, b.count * sizeof(float),
                            cudaMemcpyDeviceToHost, ctx_.stream()),
            "cudaMemcpyAsync (gradient to host)");
    }
    pushed_[l].record(ctx_.stream());
  }

  // Inputs, labels and dropout masks travel together in one copy (batch_staging.hpp).
  StagedLayout stage(const Batch& batch, bool training, std::uint64_t seed) {
    const StagedLayout s = staged_layout(spec_, batch.n, training);
    stage_batch(spec_, batch, seed, s, host_in_.data());
    check(cudaMemcpyAsync(in_.data(), host_in_.data(), s.bytes, cudaMemcpyHostToDevice, ctx_.stream()),
          "cudaMemcpyAsync (batch to device)");
    return s;
  }

  std::vector<LayerOp>& ops_for(std::size_t n) {
    auto it = ops_.find(n);
    if (it != ops_.end()) return it->second;
    std::vector<LayerOp> ops(spec_.layers.size());
    for (std::size_t l = 0; l < spec_.layers.size(); ++l) {
      const LayerSpec& ls = spec_.layers[l];
      switch (ls.kind) {
        case LayerKind::Dense: ops[l].dense = std::make_unique<CublasDense>(ctx_, n, ls.in_size(), ls.out_size()); break;
        case LayerKind::Conv2d:
          ops[l].conv = std::make_unique<CudnnConv2d>(
              ctx_, layers::Conv2dShape{n, static_cast<std::size_t>(ls.in_c), static_cast<std::size_t>(ls.in_h),
                                        static_cast<std::size_t>(ls.in_w), static_cast<std::size_t>(ls.out_c),
                                        static_cast<std::size_t>(ls.kernel)});
          break;
        case LayerKind::MaxPool2x2:
          ops[l].pool = std::make_unique<CudnnMaxPool2x2>(ctx_, static_cast<int>(n), ls.in_c, ls.in_h, ls.in_w);
          break;
        case LayerKind::Relu: ops[l].act = std::make_unique<CudnnActivation>(ctx_, Activation::Relu, n * ls.out_size()); break;
        case LayerKind::Sigmoid:
          ops[l].act = std::make_unique<CudnnActivation>(ctx_, Activation::Sigmoid, n * ls.out_size());
          break;
        case LayerKind::Dropout: break;
      }
    }
    return ops_.emplace(n, std::move(ops)).first->second;
  }

  const float* block(int index) const { return params_.data() + spec_.layout.blocks[static_cast<std::size_t>(index)].offset; }
  float* grad_block(int index) { return grad_.data() + spec_.layout.blocks[static_cast<std::size_t>(index)].offset; }

  // Returns act[l], the input of layer l (act[0] = x, act[L] = logits). Inference dropout is
  // the identity, so its output simply aliases its input. host_params: pull each block just
  // before its layer; null when the device copy is already current.
  std::vector<const float*> forward(std::vector<LayerOp>& ops, const StagedLayout& staged, std::size_t n, bool training,
                                    const float* host_params) {
    const std::size_t L = spec_.layers.size();
    std::vector<const float*> act(L + 1);
    act[0] = reinterpret_cast<const float*>(in_.data());
    for (std::size_t l = 0; l < L; ++l) {
      const LayerSpec& ls = spec_.layers[l];
      float* out = acts_[l + 1].data();
      act[l + 1] = out;
      if (host_params != nullptr && ls.weight_block >= 0) {
        pull_block(host_params, ls.weight_block);
        pull_block(host_params, ls.bias_block);
      }
      switch (ls.kind) {
        case LayerKind::Dense: ops[l].dense->forward(act[l], block(ls.weight_block), block(ls.bias_block), out); break;
        case LayerKind::Conv2d: ops[l].conv->forward(act[l], block(ls.weight_block), block(ls.bias_block), out); break;
        case LayerKind::MaxPool2x2: ops[l].pool->forward(act[l], out); break;
        case LayerKind::Relu:
        case LayerKind::Sigmoid: ops[l].act->forward(act[l], out); break;
        case LayerKind::Dropout:
          if (!training) {
            act[l + 1] = act[l];
            break;
          }
          dropout(act[l], in_.data() + staged.masks[l], ls.dropout, out, n * ls.out_size(), ctx_.stream());
          break;
      }
    }
    return act;
  }

  // delta_[0] holds d(mean loss)/d(logits) on entry; the two delta buffers alternate.
  void backward(std::vector<LayerOp>& ops, const StagedLayout& staged, const std::vector<const float*>& act,
                std::size_t n) {
    int cur = 0;
    for (std::size_t l = spec_.layers.size(); l-- > 0;) {
      const LayerSpec& ls = spec_.layers[l];
      const float* dy = delta_[cur].data();
      float* dx = l > 0 ? delta_[1 - cur].data() : nullptr;
      switch (ls.kind) {
        case LayerKind::Dense:
          ops[l].dense->backward(act[l], block(ls.weight_block), dy, dx, grad_block(ls.weight_block),
                                 grad_block(ls.bias_block));
          push_layer(l);
          break;
        case LayerKind::Conv2d:
          ops[l].conv->backward(act[l], block(ls.weight_block), dy, dx, grad_block(ls.weight_block),
                                grad_block(ls.bias_block));
          push_layer(l);
          break;
        case LayerKind::MaxPool2x2:
          if (dx != nullptr) ops[l].pool->backward(act[l], act[l + 1], dy, dx);
          break;
        case LayerKind::Relu:
        case LayerKind::Sigmoid:
          if (dx != nullptr) ops[l].act->backward(act[l], act[l + 1], dy, dx);
          break;
        case LayerKind::Dropout:
          if (dx != nullptr) dropout(dy, in_.data() + staged.masks[l], ls.dropout, dx, n * ls.out_size(), ctx_.stream());
          break;
      }
      cur = 1 - cur;
    }
  }

  CudaContext ctx_;
  ModelSpec spec_;
  std::size_t max_batch_;
  DeviceBuffer<float> params_, grad_;
  PinnedBuffer<float> host_params_, host_grad_;
  PinnedBuffer<unsigned char> host_in_;
  DeviceBuffer<unsigned char> in_;
  std::vector<DeviceBuffer<float>> acts_;  // acts_[l + 1]: output of layer l (acts_[0] unused: x is in in_)
  DeviceBuffer<float> delta_[2];
  DeviceBuffer<float> row_loss_;
  DeviceBuffer<int> row_correct_;
  DeviceBuffer<float> stats_;
  PinnedBuffer<float> host_stats_;
  std::map<std::size_t, std::vector<LayerOp>> ops_;
  std::vector<CudaEvent> pushed_;  // per layer: its gradient blocks have reached host_grad_
};

}  // namespace
}  // namespace cuda

std::unique_ptr<Network> make_cuda_network(const ModelSpec& spec, const NetworkOptions& options) {
  return std::make_unique<cuda::CudaNetwork>(spec, options);
}

}  // namespace synclab
