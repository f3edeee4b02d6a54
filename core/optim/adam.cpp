#include <cmath>
#include <istream>
#include <ostream>
#include <vector>

#include "core/optim/optimizer_state.hpp"
#include "core/optim/optimizers.hpp"

namespace synclab::optim {
namespace {

// The update loop, compiled for AVX-512, AVX2 and baseline x86-64 (picked at load time):
// it streams 3.3M floats per CNN step on the server, so wide vectors matter. Not under TSan:
// the load-time resolver runs during relocation, before TSan's runtime is set up, and its
// instrumented code crashes every program that links this file.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void adam_update(float* p, const float* g, float* m, float* v, std::size_t n, float b1, float b2, float step,
                 float inv_sqrt_bc2, float eps, float wd) {
  for (std::size_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    p[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

class Adam final : public Optimizer {
 public:
  Adam(const OptimizerSpec& spec, std::size_t size) : spec_(spec), size_(size), m_(size, 0.f), v_(size, 0.f) {}
  void step(std::span<float> params, std::span<const float> grad, double lr_scale) override {
    check_step_sizes("adam", size_, params.size(), grad.size());
    ++steps_;
    const double t = static_cast<double>(steps_);
    const double bc1 = 1.0 - std::pow(spec_.beta1, t), bc2 = 1.0 - std::pow(spec_.beta2, t);
    adam_update(params.data(), grad.data(), m_.data(), v_.data(), size_, static_cast<float>(spec_.beta1),
                static_cast<float>(spec_.beta2), static_cast<float>(spec_.lr * lr_scale / bc1),
                static_cast<float>(1.0 / std::sqrt(bc2)), static_cast<float>(spec_.eps),
                static_cast<float>(spec_.weight_decay));
  }
  std::size_t size() const override { return size_; }
  std::size_t steps() const override { return steps_; }
  const OptimizerSpec& spec() const override { return spec_; }
  void save(std::ostream& out) const override { write_state(out, {"adam", size_, steps_, {&m_, &v_}}); }
  void load(std::istream& in) override { steps_ = read_state(in, "adam", size_, {&m_, &v_}); }

 private:
  OptimizerSpec spec_;
  std::size_t size_, steps_ = 0;
  std::vector<float> m_, v_;
};

}  // namespace

std::unique_ptr<Optimizer> make_adam(const OptimizerSpec& spec, std::size_t size) {
  return std::make_unique<Adam>(spec, size);
}

}  // namespace synclab::optim
