#include <istream>
#include <ostream>
#include <vector>

#include "core/optim/optimizer_state.hpp"
#include "core/optim/optimizers.hpp"

namespace synclab::optim {
namespace {

class Momentum final : public Optimizer {
 public:
  Momentum(const OptimizerSpec& spec, std::size_t size) : spec_(spec), size_(size), velocity_(size, 0.f) {}
  void step(std::span<float> params, std::span<const float> grad, double lr_scale) override {
    check_step_sizes("momentum", size_, params.size(), grad.size());
    const float lr = static_cast<float>(spec_.lr * lr_scale), wd = static_cast<float>(spec_.weight_decay);
    const float mu = static_cast<float>(spec_.momentum);
    float* p = params.data();
    const float* g = grad.data();
    float* v = velocity_.data();
    for (std::size_t i = 0; i < size_; ++i) {
      v[i] = mu * v[i] + (g[i] + wd * p[i]);
      p[i] -= lr * v[i];
    }
    ++steps_;
  }
  std::size_t size() const override { return size_; }
  std::size_t steps() const override { return steps_; }
  const OptimizerSpec& spec() const override { return spec_; }
  void save(std::ostream& out) const override { write_state(out, {"momentum", size_, steps_, {&velocity_}}); }
  void load(std::istream& in) override { steps_ = read_state(in, "momentum", size_, {&velocity_}); }

 private:
  OptimizerSpec spec_;
  std::size_t size_, steps_ = 0;
  std::vector<float> velocity_;
};

}  // namespace

std::unique_ptr<Optimizer> make_momentum(const OptimizerSpec& spec, std::size_t size) {
  return std::make_unique<Momentum>(spec, size);
}

}  // namespace synclab::optim
