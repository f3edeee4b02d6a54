#pragma once
// One simulated run (`synclab sim`): SimGrid actors drive the policies' WorkerCore and
// ServerCore through the simulated platform and write the run directory with simulated times.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"

namespace synclab::sim {

struct SimOptions {
  std::vector<std::string> simgrid_settings;  ///< "key:value" SimGrid settings applied after ours (--cfg)
  std::ostream* log = nullptr;                ///< progress and policy notes; nullptr = std::cerr
  bool log_progress = true;                   ///< a progress line every ~10% of the run
  /// > 0: every step time is rounded to a multiple of this many seconds (at least one).
  /// Steps that end together start their transfers together, so SimGrid solves bandwidth
  /// sharing once per batch instead of once per transfer: much faster with thousands of
  /// saturating workers, at the cost of this much resolution in compute times.
  double time_quantum = 0;
  /// Called when a worker hands a push over: (simulated time, worker, its clock after the push).
  std::function<void(double, int, std::uint64_t)> on_push;
};

/// Simulates `config` and writes the run directory `dir` (config.yaml, updates.csv,
/// evals.csv, summary.json). SimGrid allows one engine per process: call this once per
/// process. Throws ConfigError for a bad config and Error for a deadlock, a policy's
/// StopRun error or all workers failed (summary.json is written first, with stop_reason).
RunSummary simulate(const RunConfig& config, const std::filesystem::path& dir, const SimOptions& options = {});

}  // namespace synclab::sim
