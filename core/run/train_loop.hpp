#pragma once
// `synclab train`: single-process training (one network, one optimizer, no parameter
// server) writing a run directory with backend "train", worker 0 and staleness 0.
#include <atomic>
#include <filesystem>
#include <iosfwd>

#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"

namespace synclab {

struct TrainOptions {
  bool live_progress = false;     ///< redraw one progress line (stderr is a terminal)
  bool log_progress = true;       ///< otherwise: a log line every ~10% of the run
  std::ostream* log = nullptr;    ///< where progress goes; nullptr = std::cerr
  const std::atomic<bool>* cancel = nullptr;  ///< set (e.g. on SIGINT): stop after the current step
};

/// CPUs this process may run on (its affinity mask), at least 1.
int usable_cpus();

/// Trains per config until a train.stop limit (or cancel: stop_reason "interrupted"), evaluating every train.eval_every updates
/// (the wall clock pauses while evaluating), and writes the run directory `dir`.
RunSummary train_run(const RunConfig& config, const std::filesystem::path& dir, const TrainOptions& options = {});

}  // namespace synclab
