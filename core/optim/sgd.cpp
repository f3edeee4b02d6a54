#include <istream>
#include <ostream>

#include "core/optim/optimizer_state.hpp"
#include "core/optim/optimizers.hpp"

namespace synclab::optim {
namespace {

class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerSpec& spec, std::size_t size) : spec_(spec), size_(size) {}
  void step(std::span<float> params, std::span<const float> grad, double lr_scale) override {
    check_step_sizes("sgd", size_, params.size(), grad.size());
    const float lr = static_cast<float>(spec_.lr * lr_scale), wd = static_cast<float>(spec_.weight_decay);
    float* p = params.data();
    const float* g = grad.data();
    if (wd == 0.f) {
      for (std::size_t i = 0; i < size_; ++i) p[i] -= lr * g[i];
    } else {
      for (std::size_t i = 0; i < size_; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    }
    ++steps_;
  }
  std::size_t size() const override { return size_; }
  std::size_t steps() const override { return steps_; }
  const OptimizerSpec& spec() const override { return spec_; }
  void save(std::ostream& out) const override { write_state(out, {"sgd", size_, steps_, {}}); }
  void load(std::istream& in) override { steps_ = read_state(in, "sgd", size_, {}); }

 private:
  OptimizerSpec spec_;
  std::size_t size_, steps_ = 0;
};

}  // namespace

std::unique_ptr<Optimizer> make_sgd(const OptimizerSpec& spec, std::size_t size) {
  return std::make_unique<Sgd>(spec, size);
}

}  // namespace synclab::optim
