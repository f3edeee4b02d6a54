#pragma once
// Simulated compute time of one worker step: step FLOPs / worker speed, then straggler
// noise (cluster.straggler). Every draw is a pure function of (seed, worker, step), so a
// run is deterministic whatever order the simulation visits workers in.
#include <cstdint>
#include <vector>

#include "core/config/run_config.hpp"

namespace synclab::sim {

class StepTimeModel {
 public:
  /// base_seconds[w]: noise-free step time of worker w. Validates the straggler spec
  /// (ConfigError naming cluster.straggler.<key>).
  StepTimeModel(const StragglerSpec& straggler, std::uint64_t seed, std::vector<double> base_seconds);
  /// Seconds worker w spends on step `step` when it starts at simulated time `now`.
  double seconds(int worker, std::uint64_t step, double now) const;
  /// Noise-free seconds of worker w.
  double base(int worker) const { return base_[static_cast<std::size_t>(worker)]; }
  /// Whether worker w is subject to the straggler noise.
  bool affected(int worker) const { return affected_[static_cast<std::size_t>(worker)] != 0; }

 private:
  enum class Dist { None, Exponential, Lognormal, Periodic };
  Dist dist_ = Dist::None;
  StragglerSpec spec_;
  double lognormal_mu_ = 0;  // chosen so that E[extra] = spec_.mean
  std::uint64_t seed_;
  std::vector<double> base_;
  std::vector<char> affected_;
};

}  // namespace synclab::sim
