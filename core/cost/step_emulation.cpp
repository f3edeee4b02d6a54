#include "core/cost/step_emulation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

// Base times are measured per step; the model only contributes the noise draws. (The
// config loader has already checked that cluster.speeds has one entry per worker.)
StepEmulation::StepEmulation(const RunConfig& config, int worker)
    : worker_(worker), model_(config.cluster.straggler, config.train.seed, std::vector<double>(static_cast<std::size_t>(config.cluster.workers), 0.0)) {
  const auto& c = config.cluster;
  if (!c.speeds.empty()) {
    for (double s : c.speeds)
      if (!(s > 0 && s <= 1))
        throw ConfigError("cluster.speeds", fmt::format("{:g} cannot be emulated on a real worker: factors must be in (0, 1] (slow-downs only)", s));
    slowdown_ = 1.0 / c.speeds[static_cast<std::size_t>(worker)];
  }
  active_ = slowdown_ != 1 || (model_.noisy() && model_.affected(worker));
}

double StepEmulation::pad(double measured, int local_steps, double now) {
  const int n = std::max(1, local_steps);
  const double base = measured * slowdown_ / n;
  double target = 0;
  for (int i = 0; i < n; ++i) target += model_.seconds_from(worker_, steps_ + static_cast<std::uint64_t>(i), now, base);
  steps_ += static_cast<std::uint64_t>(n);
  return active_ ? std::max(0.0, target - measured) : 0.0;
}

void validate_step_emulation(const RunConfig& config) {
  for (int w = 0; w < config.cluster.workers; ++w) StepEmulation check(config, w);
}

}  // namespace synclab
