#pragma once
// The numbers behind a report: runs grouped by config (seeds of one config form a group),
// seed-aggregated curves, time-to-target, throughput, staleness, breakdowns, and sim-vs-real
// pairs with prediction errors.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/run_data.hpp"

namespace synclab::experiments {

/// One point of a seed-aggregated evaluation curve (evaluations matched by update count);
/// lo/hi bound the 95% interval of the mean over the seeds that have the point.
struct CurvePoint {
  std::uint64_t update = 0;
  double time_s = 0;                          ///< mean over seeds
  double acc_mean = 0, acc_min = 0, acc_max = 0;
  double acc_lo = 0, acc_hi = 0;
  double loss_mean = 0, loss_lo = 0, loss_hi = 0;  ///< test loss
  std::size_t seeds = 0;
};

/// One point of a seed-aggregated train-loss curve: a window of server updates.
struct LossPoint {
  std::uint64_t update = 0;                   ///< last update of the window
  double time_s = 0;                          ///< mean over seeds
  double mean = 0, lo = 0, hi = 0;            ///< mean loss, 95% interval over seeds
};

/// One figure over a group's seeds: mean, min, max and the 95% interval of the mean
/// (lo = hi = mean for one seed).
struct Spread {
  double mean = 0, min = 0, max = 0;
  double lo = 0, hi = 0;
  std::size_t n = 0;
};

/// Runs that share one config up to the seed.
struct RunGroup {
  std::string label;                          ///< what distinguishes it from other groups
  std::string backend;
  std::map<std::string, std::string> config;  ///< the shared config, seed removed
  std::vector<const RunData*> runs;
  std::vector<CurvePoint> curve;
  std::vector<LossPoint> train_loss;          ///< empty when updates.csv has no loss
  Spread final_accuracy, final_loss, time_s, updates_per_s, samples_per_s;
  Spread bytes_sent;                          ///< summary bytes_sent (bytes)
  Spread worker_seconds;                      ///< workers x time_s: machine time paid for
  std::optional<Spread> tta;                  ///< time to target over seeds, when every seed reached it
  std::optional<Spread> bytes_to_target;      ///< bytes_sent x updates to target / updates
  double updates = 0, mean_staleness = 0, max_staleness = 0;
  std::optional<double> time_to_target;       ///< mean over seeds, when every seed reached it
  std::optional<double> updates_to_target;
  std::size_t reached = 0;                    ///< seeds that reached the target
  std::optional<double> fastest_to_target;    ///< the earliest time a seed reached it, when any did
  std::map<std::int64_t, double> staleness_fraction;  ///< share of applied gradients
  std::vector<WorkerBreakdown> breakdown;     ///< mean over seeds, per worker
};

/// A simulated and a real group of the same config (backend-specific keys ignored).
struct SimRealPair {
  const RunGroup* sim = nullptr;
  const RunGroup* real = nullptr;
  double time_error_pct = 0;                  ///< (sim - real) / real * 100, total run time
  double throughput_error_pct = 0;            ///< same for updates/s
  double time_per_update_error_pct = 0;       ///< same for seconds per update (1 / updates/s)
  std::optional<double> tta_error_pct;        ///< same for time to target, when both reached it
  std::optional<double> updates_to_target_error_pct;  ///< same for updates to target: the learning curve's part of it
  std::optional<double> real_spread_pct;      ///< the real seeds' time per update, (slowest - fastest) / mean x 100; two or more seeds
  std::optional<double> sim_spread_pct;       ///< the same for the simulated seeds (a model that settles in one regime per run spreads wider)
  std::optional<double> real_tta_spread_pct;  ///< the same for their time to target, where two or more seeds all reached it
  double accuracy_diff = 0;                   ///< sim - real final accuracy (fraction)
  std::string sim_variant;                    ///< "sim.k=v, ..." telling apart several sims of one real run; else empty
};

/// Throughput against one swept numeric key (workers, a bandwidth, ...).
struct NumericAxis {
  struct Point {
    std::string series;         ///< the group's label without this key
    double x = 0;               ///< the key's value (bandwidths in Gbit/s)
    double samples_per_s = 0, lo = 0, hi = 0;  ///< mean, min, max over seeds
  };
  std::string key;              ///< dotted config key
  std::string title;            ///< axis title with unit
  bool log_x = false;           ///< values span 20x or more
  std::vector<Point> points;
};

struct ReportOptions {
  std::optional<double> target;               ///< target accuracy; default: see default_target
  std::string title = "synclab report";
};

/// Groups and pairs point into runs and groups: move it, never copy it.
struct ReportModel {
  ReportModel() = default;
  ReportModel(ReportModel&&) = default;
  ReportModel& operator=(ReportModel&&) = default;
  ReportModel(const ReportModel&) = delete;
  ReportModel& operator=(const ReportModel&) = delete;
  std::string title;
  std::vector<std::string> inputs;
  std::vector<RunData> runs;
  std::vector<RunGroup> groups;
  std::vector<SimRealPair> pairs;
  std::vector<FailedRun> failed;
  double target = 0;
  bool target_given = false;
  bool has_accuracy = false;                  ///< some run has evaluations (not timing mode)
  std::optional<NumericAxis> numeric_axis;    ///< when a numeric key with >= 3 values is swept
};

/// Reads every run below the inputs and computes the model. Throws Error on bad input.
ReportModel build_report_model(const std::vector<std::filesystem::path>& inputs, const ReportOptions& options);

/// Same over runs already loaded (tests, other front ends).
ReportModel build_report_model(std::vector<RunData> runs, const ReportOptions& options);

/// The config of a pair without the "real: " prefix of its group label.
std::string pair_label(const SimRealPair& pair);

/// A group's label without its "backend: " prefix: the config alone ("bsp workers=3").
std::string config_label(const RunGroup& group);

/// `keys` less those whose values the other keys imply among `configs` (a measured cost that
/// varies only with the tag), longest values dropped first; policy keys always stay.
std::vector<std::string> without_implied_keys(const std::vector<const std::map<std::string, std::string>*>& configs,
                                              std::vector<std::string> keys);

/// The first evaluation of a run at or above the target accuracy.
std::optional<EvalPoint> first_at_target(const RunData& run, double target);

/// Mean, min, max and 95% interval of the values.
Spread make_spread(const std::vector<double>& values);

/// Default target: 95% of the best group's mean final accuracy, rounded down to 0.01.
double default_target(const std::vector<RunGroup>& groups);

/// Config keys that describe the machine rather than the experiment (ignored when pairing
/// sim and real runs): sim.*, cluster.gpu*, cluster.link*, cluster.ps_link*, cluster.platform,
/// worker.*, real.*, launch.*, train.backend, train.threads.
bool is_backend_specific(const std::string& key);

}  // namespace synclab::experiments
