// The run monitor: counting and stopping decided once for every driver.
#include "core/run/run_monitor.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace synclab {

MonitorLimits MonitorLimits::from(const RunConfig& config, bool evaluate) {
  MonitorLimits l;
  l.stop_updates = config.train.stop_updates;
  l.stop_time = config.train.stop_time;
  l.stop_accuracy = config.train.stop_accuracy;
  l.eval_every = config.train.eval_every;
  l.evaluate = evaluate;
  l.eval_samples = config.data.eval_samples;
  return l;
}

RunMonitor::RunMonitor(const MonitorLimits& limits, RunWriter* writer) : limits_(limits), writer_(writer) {}

MonitorActions RunMonitor::started() {
  MonitorActions a;
  if (limits_.evaluate) a.evaluate = EvalPoint{0.0, 0, 0, limits_.eval_samples};
  return a;
}

MonitorActions RunMonitor::decide_stop(double t, const std::string& reason, const std::string& error) {
  if (stop_) return {};
  stop_ = RunStop{reason, error, t};
  MonitorActions a;
  a.stop = stop_;
  return a;
}

// A full disk ends the run at its first failed write, not after the last update.
MonitorActions RunMonitor::check_write(double t) {
  if (!writer_ || writer_->write_error().empty()) return {};
  return decide_stop(t, "error", writer_->write_error());
}

MonitorActions RunMonitor::applied(double t, const AppliedGradient& g) {
  now_ = std::max(now_, t);
  // Rows applied after a stop are still written and counted: the final parameters hold them.
  if (writer_) writer_->update(t, g.update, g.worker, g.staleness, g.loss);
  ++applied_;
  samples_ += g.samples;
  staleness_sum_ += g.staleness;
  max_staleness_ = std::max(max_staleness_, g.staleness);
  if (!std::isfinite(g.loss))
    return decide_stop(t, "diverged",
                       fmt::format("diverged: the training loss became {} at update {} (worker {}, {:.6f} s); lower "
                                   "train.optimizer.lr",
                                   g.loss, g.update, g.worker, t));
  return check_write(t);
}

void RunMonitor::dropped(double t, int /*worker*/) {
  now_ = std::max(now_, t);
  ++dropped_;
}

MonitorActions RunMonitor::version(double t, std::uint64_t v) {
  now_ = std::max(now_, t);
  if (v <= version_) return {};
  version_ = v;
  if (stop_) return {};
  MonitorActions a;
  // Buckets rather than v % eval_every: a version that jumps past a multiple (shards
  // catching up, several applies at once) is still evaluated.
  if (limits_.evaluate && limits_.eval_every && v / limits_.eval_every > eval_bucket_) {
    eval_bucket_ = v / limits_.eval_every;
    a.evaluate = EvalPoint{t, v, samples_, limits_.eval_samples};
  }
  if (limits_.stop_updates && v >= limits_.stop_updates) a.stop = decide_stop(t, "updates", {}).stop;
  else if (limits_.stop_time > 0 && t >= limits_.stop_time) a.stop = decide_stop(t, "time", {}).stop;
  return a;
}

MonitorActions RunMonitor::clock(double t) {
  now_ = std::max(now_, t);
  if (stop_ || !(limits_.stop_time > 0) || t < limits_.stop_time) return {};
  return decide_stop(t, "time", {});
}

std::optional<double> RunMonitor::deadline() const {
  if (limits_.stop_time > 0) return limits_.stop_time;
  return std::nullopt;
}

MonitorActions RunMonitor::evaluated(const EvalPoint& at, const TestResult& result) {
  if (writer_) writer_->eval(at.time, at.version, at.samples, result.loss, result.accuracy);
  last_eval_ = result;
  last_eval_at_ = at;
  if (!std::isfinite(result.loss))
    return decide_stop(at.time, "diverged",
                       fmt::format("diverged: the test loss became {} at update {} ({:.6f} s); lower train.optimizer.lr",
                                   result.loss, at.version, at.time));
  if (MonitorActions a = check_write(at.time); !a.empty()) return a;
  // The run reached the target when the scored model existed, whenever the score arrives.
  if (limits_.stop_accuracy > 0 && result.accuracy >= limits_.stop_accuracy) return decide_stop(at.time, "accuracy", {});
  return {};
}

MonitorActions RunMonitor::stop(double t, const std::string& reason, const std::string& error) {
  now_ = std::max(now_, t);
  return decide_stop(t, reason, error);
}

void RunMonitor::worker_lost(double t, int worker) {
  now_ = std::max(now_, t);
  if (worker < 0) return;
  if (lost_.size() <= static_cast<std::size_t>(worker)) lost_.resize(static_cast<std::size_t>(worker) + 1, false);
  lost_[static_cast<std::size_t>(worker)] = true;
  last_loss_time_ = t;
}

void RunMonitor::worker_joined(int worker) {
  if (worker >= 0 && static_cast<std::size_t>(worker) < lost_.size()) lost_[static_cast<std::size_t>(worker)] = false;
}

MonitorActions RunMonitor::ran_dry(double t, int workers, const std::string& deadlock_error) {
  now_ = std::max(now_, t);
  if (stop_) return {};
  const auto lost = static_cast<int>(std::count(lost_.begin(), lost_.end(), true));
  // Transfers orphaned by the last crash may have run on after it: the run ended at the crash.
  if (workers > 0 && lost >= workers)
    return decide_stop(last_loss_time_, "failed",
                       fmt::format("every worker failed (cluster.failures); the last at {:.6f} s, after {} updates",
                                   last_loss_time_, version_));
  return decide_stop(t, "deadlock", deadlock_error);
}

void RunMonitor::resumed(double t, std::uint64_t v, std::uint64_t samples) {
  now_ = std::max(now_, t);
  samples_ = samples;
  if (limits_.eval_every) eval_bucket_ = v / limits_.eval_every;
}

std::optional<EvalPoint> RunMonitor::final_evaluation() const {
  if (!limits_.evaluate) return std::nullopt;
  // The summary's figures are over the whole test set, whatever eval_samples says.
  if (last_eval_at_ && last_eval_at_->version == version_ && last_eval_at_->test_samples == 0) return std::nullopt;
  return EvalPoint{stop_ ? stop_->time : now_, version_, samples_, 0};
}

void RunMonitor::final_evaluated(const EvalPoint& at, const TestResult& result) {
  final_eval_ = result;
  if (writer_ && (!last_eval_at_ || last_eval_at_->version != at.version))
    writer_->eval(at.time, at.version, at.samples, result.loss, result.accuracy);
}

void RunMonitor::fill(RunSummary& s) const {
  s.updates = version_;
  s.samples = samples_;
  s.time_s = stop_ ? stop_->time : now_;
  const std::optional<TestResult>& final = final_eval_ ? final_eval_ : last_eval_;
  s.final_test_accuracy = final ? final->accuracy : 0.0;
  s.final_test_loss = final ? final->loss : 0.0;
  s.mean_staleness = mean_staleness();
  s.max_staleness = max_staleness_;
  s.stop_reason = stop_ ? stop_->reason : std::string();
  if (stop_ && stop_->failed()) s.error = stop_->error;
  s.dropped_pushes = dropped_;
}

}  // namespace synclab
