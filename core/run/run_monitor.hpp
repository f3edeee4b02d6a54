#pragma once
// The run monitor: the one bookkeeper of a run, shared by every driver (train, the
// in-process driver, sim, the real PS). A driver feeds it what happened (an applied
// gradient, a dropped push, a new model version, the clock reaching a deadline, an
// evaluation's result, a worker lost) and executes what it answers: evaluate now, stop now.
// It alone decides when to evaluate and when to stop, counts updates, samples (applied
// gradients only) and staleness, writes updates.csv and evals.csv rows through the
// RunWriter, and fills the figures of summary.json. It reads no clock: time is an event
// field, seconds of the run's clock (simulated for sim, wall for train and real).
// Semantics in docs/run-directory.md ("Counting and stopping").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"

namespace synclab {

/// The limits and cadence a run is held to (train.stop.*, train.eval_every, data.eval_samples).
struct MonitorLimits {
  std::uint64_t stop_updates = 0;  ///< stop once the model has this many versions; 0 = no limit
  double stop_time = 0;            ///< stop once the run clock reaches this; 0 = no limit
  double stop_accuracy = 0;        ///< stop at the first evaluation at or above this; 0 = no target
  std::uint64_t eval_every = 0;    ///< evaluate each time the version reaches a multiple; 0 = only first and last
  bool evaluate = true;            ///< false: no evaluations at all (timing mode, a PS shard other than 0)
  std::size_t eval_samples = 0;    ///< test samples per evaluation during the run (0 = all); the final one uses all

  /// The limits of config.train and config.data; `evaluate` says whether this driver scores models.
  static MonitorLimits from(const RunConfig& config, bool evaluate);
};

/// One applied gradient, as the driver saw it (one updates.csv row).
struct AppliedGradient {
  std::uint64_t update = 0;    ///< the model version the apply created
  int worker = 0;
  std::int64_t staleness = 0;  ///< version at apply time minus the version the gradient was computed on
  double loss = 0;             ///< training loss of the gradient (non-finite: the run diverged)
  std::uint64_t samples = 0;   ///< training examples behind it (batch x local steps)
};

/// A model to score: the run clock, version and sample count the evaluations.csv row gets.
struct EvalPoint {
  double time = 0;
  std::uint64_t version = 0;
  std::uint64_t samples = 0;
  std::size_t test_samples = 0;  ///< test samples to score (0 = the whole test set)
};

/// Why and when a run ended.
struct RunStop {
  std::string reason;  ///< summary.json stop_reason (docs/run-directory.md)
  std::string error;   ///< why a failed run failed, or a policy's own words; empty otherwise
  double time = 0;     ///< run clock at the stop: summary.json time_s
  bool failed() const { return is_failure_stop_reason(reason); }
};

/// What the driver must do after an event, in this order: evaluate, then stop. Empty: nothing.
struct MonitorActions {
  std::optional<EvalPoint> evaluate;  ///< score the model as of now, then report evaluated(point, result)
  std::optional<RunStop> stop;        ///< the run stopped with this event: end every activity
  bool empty() const { return !evaluate && !stop; }
};

class RunMonitor {
 public:
  /// `writer` (may be null: no run directory) receives the CSV rows; it must outlive the monitor.
  RunMonitor(const MonitorLimits& limits, RunWriter* writer);

  /// The first evaluation, of version 0 at time 0 (none when evaluations are off).
  MonitorActions started();
  /// One applied gradient at time t: an updates.csv row; counts samples and staleness. A
  /// non-finite loss stops the run ("diverged"), a failed write too ("error").
  MonitorActions applied(double t, const AppliedGradient& g);
  /// A push the policy dropped (too stale, late): counted, never a sample.
  void dropped(double t, int worker);
  /// The model reached version v at time t (with shards: the lowest version over them).
  /// Decides the evaluation cadence, the update limit, and checks the time limit.
  MonitorActions version(double t, std::uint64_t v);
  /// The clock reached t without an update: checks the time limit. Drivers call it at
  /// deadline() (sim: an event then; real: a timer) so a run without updates stops too.
  MonitorActions clock(double t);
  /// The run clock at which the driver must call clock(); none without a time limit.
  std::optional<double> deadline() const;
  /// The result of the evaluation asked for at `at`: an evals.csv row; a target accuracy
  /// reached stops the run ("accuracy"), a non-finite test loss too ("diverged").
  MonitorActions evaluated(const EvalPoint& at, const TestResult& result);
  /// A stop from outside the monitor's limits: a policy's StopRun ("policy"), an error,
  /// an interrupt. The first stop wins: later ones (and their actions) are ignored.
  MonitorActions stop(double t, const std::string& reason, const std::string& error = {});
  /// A worker failed (its process crashed) or came back.
  void worker_lost(double t, int worker);
  void worker_joined(int worker);
  /// Nothing is left to happen at time t and no stop came: "failed" when every worker is
  /// lost (at the last loss), else "deadlock" with `deadlock_error` (who waits on what).
  MonitorActions ran_dry(double t, int workers, const std::string& deadlock_error);
  /// A run continued from a checkpoint taken at version v, time t, with `samples` counted:
  /// the sample count carries on from there and the evaluation cadence from v. Call it
  /// after re-feeding the rows written before it through applied() (samples 0) and
  /// evaluated(), then report version(t, v), which may stop the run ("updates").
  void resumed(double t, std::uint64_t v, std::uint64_t samples);

  /// The scoring the summary still needs once stopped: over the whole test set, of the
  /// final version, at the stop time; none when evaluations are off or the last one
  /// already was exactly that.
  std::optional<EvalPoint> final_evaluation() const;
  /// Its result: the summary's figures; an evals.csv row unless the last row is of the same version.
  void final_evaluated(const EvalPoint& at, const TestResult& result);

  /// The figures the monitor owns, filled into a summary: updates, samples, time_s,
  /// final_test_*, staleness, stop_reason, error, dropped_pushes. The driver adds the rest.
  void fill(RunSummary& summary) const;

  bool stopped() const { return stop_.has_value(); }
  const std::optional<RunStop>& stop_state() const { return stop_; }
  std::uint64_t updates() const { return version_; }
  std::uint64_t samples() const { return samples_; }
  std::uint64_t applied_gradients() const { return applied_; }
  std::uint64_t dropped_pushes() const { return dropped_; }
  double mean_staleness() const { return applied_ ? static_cast<double>(staleness_sum_) / static_cast<double>(applied_) : 0.0; }
  std::int64_t max_staleness() const { return max_staleness_; }
  /// The latest evaluation's result, and whether one has run at all.
  const std::optional<TestResult>& last_evaluation() const { return last_eval_; }

 private:
  MonitorActions check_write(double t);
  MonitorActions decide_stop(double t, const std::string& reason, const std::string& error);

  MonitorLimits limits_;
  RunWriter* writer_;
  std::optional<RunStop> stop_;
  std::uint64_t version_ = 0, samples_ = 0, applied_ = 0, dropped_ = 0;
  std::int64_t staleness_sum_ = 0, max_staleness_ = 0;
  std::uint64_t eval_bucket_ = 0;  // version / eval_every of the last evaluation asked for
  std::optional<TestResult> last_eval_;
  std::optional<EvalPoint> last_eval_at_;  // the latest evaluation written
  std::optional<TestResult> final_eval_;
  std::vector<bool> lost_;
  double last_loss_time_ = 0;
  double now_ = 0;  // the latest time an event carried
};

}  // namespace synclab
