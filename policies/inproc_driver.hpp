#pragma once
// A deterministic in-process discrete-event driver: real ServerCores and WorkerCores, with
// compute durations and message latencies scripted by the caller. Used by tests to check
// every policy without SimGrid or sockets, and as the reference the other drivers match.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"
#include "policies/server_core.hpp"
#include "policies/server_trace.hpp"
#include "policies/worker_core.hpp"

namespace synclab {

/// A scripted failure: the worker vanishes at `at` (its step in flight is lost) and, when
/// rejoin_at >= 0, comes back then and pulls again.
struct InprocFailure {
  WorkerId worker = 0;
  double at = 0;
  double rejoin_at = -1;
};

struct InprocOptions {
  PolicySpec policy;
  OptimizerSpec optimizer;
  int shards = 1;                      ///< parameter-server shards (contiguous ranges)
  std::uint64_t max_updates = 10;      ///< stop once the model has this many versions (every shard)
  double max_time = 0;                 ///< also stop once every event up to this time ran; 0 = no limit
  std::uint64_t max_events = 10'000'000;  ///< safety net against livelock
  /// Seconds of compute of a worker's step (its clock-th push); default 1.
  std::function<double(WorkerId worker, std::uint64_t clock)> compute_time;
  /// One-way delay of the n-th message a worker sends or receives; default 0.
  std::function<double(WorkerId worker, std::uint64_t message)> latency;
  std::vector<InprocFailure> failures;
  bool honor_cancel = true;            ///< a CancelStep reaching a computing worker aborts its step
};

/// One observed event, in time order (ties in processing order).
struct InprocEvent {
  enum class Kind { PushArrived, PullArrived, Replied, Applied, Dropped, Cancelled, Lost, Joined, Timer, Note };
  double time = 0;
  Kind kind = Kind::Note;
  WorkerId worker = -1;
  std::uint64_t clock = 0;             ///< worker clock carried by the push/pull (Cancelled: the worker's)
  Version version = 0;                 ///< version of the reply / created by the apply / base of the push
  PushId push = 0;
  std::int64_t staleness = 0;          ///< Applied only
  std::string text;                    ///< Dropped reason, Note text
  TimerId timer = 0;                   ///< Timer only: the id the policy chose
};

struct InprocResult {
  std::vector<float> params;           ///< final flat params (all shards joined)
  Version updates = 0;                 ///< model versions created
  double time = 0;                     ///< time of the last processed event
  std::vector<std::uint64_t> clocks;   ///< pushes sent per worker
  std::vector<AppliedRecord> applied;  ///< updates.csv rows, in order
  std::vector<double> applied_time;    ///< time of each applied row
  std::vector<DroppedRecord> dropped;
  std::vector<InprocEvent> events;     ///< full trace for property checks
  std::optional<StopRun> stop;         ///< a policy's StopRun, if any
  /// The run monitor's stop_reason: "updates" | "time" | "policy" | "error" (a policy's error
  /// stop) | "deadlock" (nothing left to happen) | "failed" (every worker lost) | "events" | "replay"
  std::string stop_reason;
  /// The summary.json figures the run monitor counted (backend "inproc"; no evaluations).
  RunSummary summary;
  bool mixed_versions = false;         ///< a pull got shards at different versions
};

/// One ServerCore per shard range, each started from its slice of `initial` (empty in
/// timing mode): the server side of the in-process run and of its replay.
std::vector<std::unique_ptr<ServerCore>> make_shard_cores(const InprocOptions& o, const std::vector<float>& initial,
                                                          const std::vector<Range>& ranges, bool timing, int workers);

/// The whole flat parameter buffer from the shards' ranges.
std::vector<float> join_shard_params(const std::vector<std::unique_ptr<ServerCore>>& cores, const std::vector<Range>& ranges,
                                     std::size_t num_params);

class InprocDriver {
 public:
  /// One WorkerSetup per worker (network/sampler owned by the caller, or null for timing
  /// mode). `initial` is the full flat buffer (may be empty in timing mode).
  InprocDriver(InprocOptions options, std::vector<float> initial, std::vector<WorkerSetup> workers);
  /// Runs until max_updates, max_time, a StopRun, or nothing is left to happen ("deadlock").
  InprocResult run();
  /// Replays a recorded run (one trace per shard, options().shards of them): every shard
  /// processes exactly the recorded events in the recorded order, workers compute on what
  /// they are sent, and a worker whose recorded next message is a pull at the same clock
  /// abandoned its step (cancelled). Timing options, failures and max_* are not used; the
  /// result's events hold only what the cores decided. Throws Error at the first event the
  /// policy does not reproduce (another version) or no worker can have sent, and for traces
  /// a driver cannot replay (a resumed checkpoint, a worker rejoining).
  InprocResult replay(const std::vector<std::vector<TraceEvent>>& shards);

 private:
  InprocOptions options_;
  std::vector<float> initial_;
  std::vector<WorkerSetup> setups_;
};

}  // namespace synclab
