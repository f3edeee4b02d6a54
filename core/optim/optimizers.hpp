#pragma once
// The concrete optimizers behind make_optimizer (one file each).
#include <memory>

#include "core/optim/optimizer.hpp"

namespace synclab::optim {

/// params -= lr * (grad + wd * params).
std::unique_ptr<Optimizer> make_sgd(const OptimizerSpec& spec, std::size_t size);
/// v = momentum * v + g; params -= lr * v (g includes weight decay).
std::unique_ptr<Optimizer> make_momentum(const OptimizerSpec& spec, std::size_t size);
/// Adam (Kingma & Ba 2015) with bias correction:
/// params -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
std::unique_ptr<Optimizer> make_adam(const OptimizerSpec& spec, std::size_t size);

/// Throws Error unless params and grad both hold `size` floats (names the optimizer).
void check_step_sizes(const char* name, std::size_t size, std::size_t params, std::size_t grad);

}  // namespace synclab::optim
