#pragma once
// Time of one worker step: the noise-free time scaled by the worker's speed, then the
// straggler noise of cluster.straggler. Every draw is a pure function of (seed, worker,
// step), so a run is deterministic whatever order workers are visited in. The simulator
// uses it for simulated compute time; a real worker uses it to emulate a slow or noisy
// node (it sleeps the difference), so both drivers see the same stragglers.
#include <cstdint>
#include <vector>

#include "core/config/run_config.hpp"

namespace synclab {

class StepTimeModel {
 public:
  /// base_seconds[w]: noise-free step time of worker w. Validates the straggler spec
  /// (ConfigError naming cluster.straggler.<key>).
  StepTimeModel(const StragglerSpec& straggler, std::uint64_t seed, std::vector<double> base_seconds);
  /// Seconds worker w spends on step `step` when it starts at time `now` (base(w) plus noise).
  double seconds(int worker, std::uint64_t step, double now) const { return seconds_from(worker, step, now, base(worker)); }
  /// The same for a step whose noise-free time is `base` seconds (a measured real step).
  double seconds_from(int worker, std::uint64_t step, double now, double base) const;
  /// Noise-free seconds of worker w.
  double base(int worker) const { return base_[static_cast<std::size_t>(worker)]; }
  /// Whether worker w is subject to the straggler noise.
  bool affected(int worker) const { return affected_[static_cast<std::size_t>(worker)] != 0; }
  /// Whether any noise is configured at all.
  bool noisy() const { return dist_ != Dist::None && (dist_ == Dist::Periodic || spec_.mean > 0); }

 private:
  enum class Dist { None, Exponential, Lognormal, Periodic };
  Dist dist_ = Dist::None;
  StragglerSpec spec_;
  double lognormal_mu_ = 0;  // chosen so that E[extra] = spec_.mean
  std::uint64_t seed_;
  std::vector<double> base_;
  std::vector<char> affected_;
};

}  // namespace synclab
