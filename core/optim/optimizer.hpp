#pragma once
// Server-side optimizers over a flat range of parameters.
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>

namespace synclab {

/// Mirrors config keys train.optimizer.*.
struct OptimizerSpec {
  std::string name = "adam";  ///< sgd | momentum | adam
  double lr = 1e-4;
  double momentum = 0.9;      ///< momentum only
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  ///< adam only
  double weight_decay = 0.0;  ///< L2 added to the gradient
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// params -= update(grad) with learning rate lr * lr_scale; sizes must equal size().
  virtual void step(std::span<float> params, std::span<const float> grad, double lr_scale = 1.0) = 0;
  virtual std::size_t size() const = 0;
  virtual std::size_t steps() const = 0;           ///< steps taken so far
  virtual const OptimizerSpec& spec() const = 0;
  /// Binary state (moments, step count) for checkpoints; load() validates sizes.
  virtual void save(std::ostream& out) const = 0;
  virtual void load(std::istream& in) = 0;
};

/// Throws ConfigError("train.optimizer.name", ...) for an unknown name.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerSpec& spec, std::size_t size);

}  // namespace synclab
