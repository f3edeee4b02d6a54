#include "core/backends/fast/fast_network.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "core/backends/batch_checks.hpp"
#include "core/backends/fast/cpu_threads.hpp"
#include "core/backends/fast/dnnl_conv2d.hpp"
#include "core/backends/fast/dnnl_maxpool.hpp"
#include "core/backends/fast/dnnl_relu.hpp"
#include "core/backends/fast/fast_op.hpp"
#include "core/backends/fast/gemm_dense.hpp"
#include "core/backends/fast/plain_elementwise.hpp"
#include "core/backends/fast/to_plain.hpp"
#include "core/common/error.hpp"
#include "core/layers/softmax_xent.hpp"

namespace synclab {
namespace {

using fast::FastContext;
using fast::FastOp;
using fast::FastTensor;

// Every op and buffer for one batch size. Ops keep references to tensors owned by earlier
// ops, so a plan is built in place and never moved.
struct Plan {
  FastTensor input;                          // wraps the caller's batch.x
  std::vector<std::unique_ptr<FastOp>> ops;
  FastTensor* logits = nullptr;              // plain [n, classes]
};

class FastNetwork final : public Network {
  static constexpr std::size_t kMaxPlans = 4;

 public:
  FastNetwork(const ModelSpec& spec, const NetworkOptions& options)
      : spec_(spec), max_batch_(std::max<std::size_t>(options.max_batch, 1)),
        threads_(fast::resolve_cpu_threads(options.threads)) {
    fast::use_cpu_threads(threads_);
    plan_for(max_batch_);  // build the training-size plan up front: errors surface here
  }
  const ModelSpec& spec() const override { return spec_; }
  BackendKind kind() const override { return BackendKind::Fast; }

  float forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grad,
                         std::uint64_t dropout_seed) override {
    check_network_args(spec_, params, batch);
    check_grad_size(spec_, grad);
    if (batch.n > max_batch_)
      throw Error("network " + spec_.name + ": batch of " + std::to_string(batch.n) + " exceeds max_batch " +
                  std::to_string(max_batch_));
    fast::use_cpu_threads(threads_);
    Plan& plan = plan_for(batch.n);
    const fast::StepArgs args{params.data(), grad.data(), dropout_seed, true};
    forward(plan, batch, args);
    const auto xent = layers::softmax_xent(plan.logits->data(), batch.y, batch.n,
                                           static_cast<std::size_t>(spec_.classes), plan.logits->diff());
    for (std::size_t i = plan.ops.size(); i-- > 0;) plan.ops[i]->backward(ctx_, args, i > 0);
    return static_cast<float>(xent.loss_sum / static_cast<float>(batch.n));
  }

  EvalStats evaluate(std::span<const float> params, const Batch& batch) override {
    check_network_args(spec_, params, batch);
    fast::use_cpu_threads(threads_);
    EvalStats stats;
    const fast::StepArgs args{params.data(), nullptr, 0, false};
    for (std::size_t first = 0; first < batch.n; first += max_batch_) {
      const std::size_t n = std::min(max_batch_, batch.n - first);
      const Batch part{batch.x + first * spec_.input_size(), batch.y + first, n};
      Plan& plan = plan_for(n);
      forward(plan, part, args);
      const auto xent = layers::softmax_xent(plan.logits->data(), part.y, n, static_cast<std::size_t>(spec_.classes),
                                             static_cast<float*>(nullptr));
      stats.loss_sum += xent.loss_sum;
      stats.correct += xent.correct;
    }
    stats.count = batch.n;
    return stats;
  }

 private:
  void forward(Plan& plan, const Batch& batch, const fast::StepArgs& args) {
    plan.input.value.set_data_handle(const_cast<float*>(batch.x));
    for (auto& op : plan.ops) op->forward(ctx_, args);
  }

  Plan& plan_for(std::size_t n) {
    auto it = plans_.find(n);
    if (it != plans_.end()) return *it->second;
    // Callers use one or two batch sizes (training, the last evaluation chunk); a caller
    // cycling through many would otherwise grow the cache without bound.
    if (plans_.size() >= kMaxPlans) std::erase_if(plans_, [&](const auto& p) { return p.first != max_batch_; });
    auto plan = std::make_unique<Plan>();
    try {
      build(*plan, n);
    } catch (const dnnl::error& e) {
      throw Error("fast backend: oneDNN cannot run model " + spec_.name + " at batch " + std::to_string(n) + ": " +
                  e.what());
    }
    return *plans_.emplace(n, std::move(plan)).first->second;
  }

  void build(Plan& plan, std::size_t n) {
    const auto N = static_cast<dnnl::memory::dim>(n);
    const auto desc = fast::plain_desc({N, spec_.in_c, spec_.in_h, spec_.in_w});
    plan.input.desc = desc;
    plan.input.value = dnnl::memory(desc, ctx_.engine, DNNL_MEMORY_NONE);
    FastTensor* current = &plan.input;
    auto push = [&](std::unique_ptr<FastOp> op) {
      current = &op->output();
      plan.ops.push_back(std::move(op));
    };
    auto make_plain = [&] {
      if (!current->plain()) push(fast::make_to_plain(ctx_, *current));
    };
    const auto& layers = spec_.layers;
    auto kind_at = [&](std::size_t l) { return l < layers.size() ? std::optional<LayerKind>(layers[l].kind) : std::nullopt; };
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const LayerSpec& layer = layers[l];
      const bool first = plan.ops.empty();
      switch (layer.kind) {
        case LayerKind::Dense:
          make_plain();
          push(fast::make_gemm_dense(ctx_, spec_, layer, *current));
          break;
        case LayerKind::Conv2d:
          // A ReLU right after a convolution runs as the convolution's post-op.
          push(fast::make_dnnl_conv2d(ctx_, spec_, layer, *current, kind_at(l + 1) == LayerKind::Relu, !first));
          break;
        case LayerKind::MaxPool2x2:
          push(fast::make_dnnl_maxpool(ctx_, layer, *current, l > 0 && layers[l - 1].kind == LayerKind::Relu));
          break;
        case LayerKind::Relu: {
          fast::ReluPasses passes;
          passes.forward = !(l > 0 && layers[l - 1].kind == LayerKind::Conv2d);  // fused into the conv
          passes.backward = kind_at(l + 1) != LayerKind::MaxPool2x2;             // done by the pooling
          if (!passes.forward && !passes.backward) break;                        // nothing left to do
          // ReLU runs in place: never on the caller's input batch.
          if (current == &plan.input) push(fast::make_to_plain(ctx_, *current));
          push(fast::make_dnnl_relu(ctx_, *current, passes));
          break;
        }
        case LayerKind::Sigmoid:
          make_plain();
          push(fast::make_plain_sigmoid(ctx_, *current));
          break;
        case LayerKind::Dropout:
          make_plain();
          push(fast::make_plain_dropout(ctx_, layer, l, *current));
          break;
      }
    }
    make_plain();
    if (current->count() != n * static_cast<std::size_t>(spec_.classes) || !current->grad)
      throw Error("network " + spec_.name + ": the last layer must output " + std::to_string(spec_.classes) +
                  " logits per sample");
    plan.logits = current;
  }

  ModelSpec spec_;
  std::size_t max_batch_;
  int threads_;
  FastContext ctx_;
  std::map<std::size_t, std::unique_ptr<Plan>> plans_;
};

}  // namespace

std::unique_ptr<Network> make_fast_network(const ModelSpec& spec, const NetworkOptions& options) {
  return std::make_unique<FastNetwork>(spec, options);
}

}  // namespace synclab
