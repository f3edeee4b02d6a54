#pragma once
// Emulated slow and noisy workers: a worker whose cluster.speeds factor is s < 1, or which
// cluster.straggler names, waits after each step so that the step lasts measured / s plus
// the same straggler draw the simulator adds (StepTimeModel, same seed). A real testbed of
// identical processes so reproduces a configured straggler; the simulator does the same
// when its hosts share one machine's cores (cluster.colocated_cores), where only the
// measured part of a step is CPU work.
#include <cstdint>

#include "core/config/run_config.hpp"
#include "core/cost/step_time.hpp"

namespace synclab {

class StepEmulation {
 public:
  /// Throws ConfigError naming cluster.speeds when a factor is not in (0, 1] (a real
  /// worker can be slowed down, not sped up) or the straggler spec is invalid.
  StepEmulation(const RunConfig& config, int worker);
  /// Whether this worker is emulated at all (otherwise pad() is always 0).
  bool active() const { return active_; }
  /// Seconds to wait after `local_steps` steps that took `measured` seconds, starting at
  /// `now` seconds into the run; advances the step counter.
  double pad(double measured, int local_steps, double now);
  /// Factor 1/s applied to measured compute.
  double slowdown() const { return slowdown_; }

 private:
  int worker_;
  StepTimeModel model_;
  double slowdown_ = 1;
  bool active_ = false;
  std::uint64_t steps_ = 0;
};

/// Checks cluster.speeds and cluster.straggler for a real run (every worker).
void validate_step_emulation(const RunConfig& config);

}  // namespace synclab
