#pragma once
// WorkerCore: one worker's step logic (pull -> tau local steps on batches of its shard ->
// push), independent of how messages and time travel. Drivers either call run() with a
// blocking WorkerDriver (SimGrid actor, real process) or drive the primitives
// (next_pull / params / on_params / compute / pushed) from an event loop.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/backends/network.hpp"
#include "core/data/dataset.hpp"
#include "policies/events.hpp"
#include "policies/worker_policy.hpp"

namespace synclab {

/// What a worker needs. network/sampler null = timing-only mode (no math, empty payloads).
struct WorkerSetup {
  WorkerId worker = 0;
  std::uint64_t seed = 1;               ///< train.seed; dropout seeds derive from (seed, worker, step)
  WorkerPolicy policy;
  double lr = 0.01;                     ///< train.optimizer.lr: local SGD lr when policy.local_lr == 0
  std::size_t num_params = 0;           ///< floats in the flat buffer
  double step_flops = 0;                ///< FLOPs of one local step (ModelCost::step_flops(batch))
  std::size_t batch = 0;                ///< samples per local step
  Network* network = nullptr;           ///< full mode: computes gradients (not owned)
  BatchSampler* sampler = nullptr;      ///< full mode: this worker's shard (not owned)
};

/// Reply to a pull as the driver received it (params already written into params()).
struct PulledParams {
  Version version = 0;
  std::optional<int> local_steps;       ///< tau hint
};

/// One computed push, ready to send. payload views the core's buffer until the next compute().
struct WorkerPush {
  PushInfo info;
  std::span<const float> payload;       ///< num_params floats; empty in timing mode
  double flops = 0;                     ///< compute to account for (sim: execute; real: nothing)
  std::size_t samples = 0;              ///< samples consumed by the local steps
};

/// Per-worker time breakdown measured with driver.now() inside run().
struct WorkerStats {
  double wait_s = 0;        ///< pull sent -> params received
  double compute_s = 0;     ///< math plus driver.compute()
  double push_s = 0;        ///< driver.push() call
  std::uint64_t pushes = 0, cancelled = 0, samples = 0;
};

/// Blocking transport used by WorkerCore::run().
class WorkerDriver {
 public:
  virtual ~WorkerDriver() = default;
  /// Current time in seconds (simulated or real).
  virtual double now() = 0;
  /// Sends the pull and blocks until the reply; writes the full flat params into `params`
  /// (empty span in timing mode). nullopt: the run is over, the worker returns.
  virtual std::optional<PulledParams> pull(const PullInfo& pull, std::span<float> params) = 0;
  /// Accounts for `flops` of computation (sim: advance simulated time; real: usually nothing).
  virtual void compute(double flops) = 0;
  /// Sends a push (blocking until handed over is fine).
  virtual void push(const PushInfo& push, std::span<const float> payload) = 0;
  /// Polled after compute(): true when the server cancelled this step (the push is skipped).
  virtual bool cancelled() { return false; }
};

class WorkerCore {
 public:
  /// Throws Error when full mode lacks network or sampler, or sizes disagree.
  explicit WorkerCore(const WorkerSetup& setup);

  /// The pull to send next (worker clock = pushes so far).
  PullInfo next_pull() const;
  /// Where the driver writes pulled params (num_params floats; empty in timing mode).
  std::span<float> params() { return params_; }
  /// The pull was answered: params() holds `version`'s params; takes the tau hint.
  void on_params(const PulledParams& reply);
  /// Runs the local steps on params() and returns the push (clock not yet advanced).
  WorkerPush compute();
  /// The push returned by compute() was sent: the worker clock advances.
  void pushed();
  /// The step was cancelled instead: nothing is sent, the clock stays.
  void cancelled();

  /// Loop: pull, compute, push until the driver's pull says stop or max_pushes (0 = no limit).
  void run(WorkerDriver& driver, std::uint64_t max_pushes = 0);

  WorkerId id() const { return setup_.worker; }
  std::uint64_t clock() const { return clock_; }               ///< pushes sent
  Version version() const { return version_; }                 ///< version of params()
  const WorkerPolicy& policy() const { return setup_.policy; }
  const WorkerStats& stats() const { return stats_; }
  bool timing_only() const { return setup_.network == nullptr; }

 private:
  WorkerSetup setup_;
  std::vector<float> params_;    // pulled params, updated in place by local SGD steps
  std::vector<float> start_;     // local-sgd: params as pulled, to form the delta
  std::vector<float> grad_;
  std::vector<float> payload_;
  std::uint64_t clock_ = 0, steps_ = 0;
  Version version_ = 0;
  WorkerStats stats_;
};

}  // namespace synclab
