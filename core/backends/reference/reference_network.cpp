#include "core/backends/reference/reference_network.hpp"

#include <algorithm>

#include "core/backends/batch_checks.hpp"
#include "core/backends/reference/reference_model.hpp"

namespace synclab {
namespace {

class ReferenceNetwork final : public Network {
 public:
  ReferenceNetwork(const ModelSpec& spec, const NetworkOptions& options)
      : model_(spec), max_batch_(std::max<std::size_t>(options.max_batch, 1)) {}
  const ModelSpec& spec() const override { return model_.spec(); }
  BackendKind kind() const override { return BackendKind::Reference; }

  float forward_backward(std::span<const float> params, const Batch& batch, std::span<float> grad,
                         std::uint64_t dropout_seed) override {
    check_network_args(spec(), params, batch);
    check_grad_size(spec(), grad);
    return model_.forward_backward(params, batch.x, batch.y, batch.n, grad, dropout_seed, true);
  }

  EvalStats evaluate(std::span<const float> params, const Batch& batch) override {
    check_network_args(spec(), params, batch);
    EvalStats stats;
    // Chunks of max_batch keep the activation buffers bounded for large evaluation sets.
    for (std::size_t first = 0; first < batch.n; first += max_batch_) {
      const std::size_t n = std::min(max_batch_, batch.n - first);
      const auto r = model_.evaluate(params, batch.x + first * spec().input_size(), batch.y + first, n);
      stats.loss_sum += r.loss_sum;
      stats.correct += r.correct;
    }
    stats.count = batch.n;
    return stats;
  }

 private:
  ReferenceModel<float> model_;
  std::size_t max_batch_;
};

}  // namespace

std::unique_ptr<Network> make_reference_network(const ModelSpec& spec, const NetworkOptions& options) {
  return std::make_unique<ReferenceNetwork>(spec, options);
}

}  // namespace synclab
