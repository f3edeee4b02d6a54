#include "core/optim/optimizer.hpp"

#include <cmath>
#include <string>

#include "core/common/error.hpp"
#include "core/optim/optimizers.hpp"

namespace synclab {

namespace optim {

void check_step_sizes(const char* name, std::size_t size, std::size_t params, std::size_t grad) {
  if (params != size || grad != size)
    throw Error(std::string("optimizer ") + name + ": step over " + std::to_string(params) + " params and " +
                std::to_string(grad) + " gradients, expected " + std::to_string(size));
}

}  // namespace optim

std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, std::size_t size) {
  if (!(spec.lr > 0.0) || !std::isfinite(spec.lr))
    throw ConfigError("train.optimizer.lr", "must be a positive number, got " + std::to_string(spec.lr));
  if (spec.weight_decay < 0.0)
    throw ConfigError("train.optimizer.weight_decay", "must be >= 0, got " + std::to_string(spec.weight_decay));
  if (spec.name == "sgd") return optim::make_sgd(spec, size);
  if (spec.name == "momentum") {
    if (spec.momentum < 0.0 || spec.momentum >= 1.0)
      throw ConfigError("train.optimizer.momentum", "must be in [0, 1), got " + std::to_string(spec.momentum));
    return optim::make_momentum(spec, size);
  }
  if (spec.name == "adam") {
    if (spec.beta1 < 0.0 || spec.beta1 >= 1.0)
      throw ConfigError("train.optimizer.beta1", "must be in [0, 1), got " + std::to_string(spec.beta1));
    if (spec.beta2 < 0.0 || spec.beta2 >= 1.0)
      throw ConfigError("train.optimizer.beta2", "must be in [0, 1), got " + std::to_string(spec.beta2));
    if (!(spec.eps > 0.0)) throw ConfigError("train.optimizer.eps", "must be > 0, got " + std::to_string(spec.eps));
    return optim::make_adam(spec, size);
  }
  throw ConfigError("train.optimizer.name", "unknown optimizer '" + spec.name + "' (expected sgd, momentum or adam)");
}

}  // namespace synclab
