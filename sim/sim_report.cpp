// What a simulated run tells: progress lines as it goes, and its summary.json at the end.
#include "sim/sim_run.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/local_lr.hpp"
#include "policies/registry.hpp"

namespace synclab::sim {

void Simulation::progress() {
  if (!options_.log_progress) return;
  const auto& t = config_.train;
  const std::uint64_t updates = monitor_->updates();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  const auto& eval = monitor_->last_evaluation();
  if (t.stop_updates && updates >= next_progress_) {
    log_ << fmt::format("sim: update {}/{} at {:.3f} simulated s ({:.1f} s wall){}\n", updates, t.stop_updates, now(), wall,
                        eval ? fmt::format(", test accuracy {:.4f}", eval->accuracy) : std::string());
    next_progress_ = updates + std::max<std::uint64_t>(1, t.stop_updates / 10);
  } else if (!t.stop_updates && wall >= next_progress_wall_) {
    // No update count to take tenths of: a line every kProgressWall seconds of wall time.
    log_ << fmt::format("sim: update {} at {:.3f}{} simulated s ({:.0f} s wall), last test accuracy {:.4f}{}\n", updates, now(),
                        t.stop_time > 0 ? fmt::format("/{:g}", t.stop_time) : std::string(), wall,
                        eval ? eval->accuracy : 0.0,
                        t.stop_accuracy > 0 ? fmt::format(" (target {:g})", t.stop_accuracy) : std::string());
    next_progress_wall_ = wall + kProgressWall;
  }
}

RunSummary Simulation::summary(double wall, double run_wall) const {
  RunSummary s;
  monitor_->fill(s);
  s.backend = "sim";
  s.policy = config_.policy.name;
  s.workers = config_.cluster.workers;
  s.shards = config_.cluster.servers;
  s.bytes_sent = bytes_sent_;
  s.final_params_sha256 = setup_.full ? sha256_hex(joined_params()) : "";
  double compute = 0, wait = 0, comm = 0;
  for (const Worker& wk : workers_) {
    s.per_worker.push_back(wk.figures);
    compute += wk.figures.compute_s;
    wait += wk.figures.wait_s;
    comm += wk.figures.communicate_s;
  }
  s.extra = {{"mode", config_.sim.mode},
             {"model", config_.model},
             {"num_params", setup_.num_params()},
             {"param_bytes", static_cast<std::uint64_t>(kFloatBytes * static_cast<double>(setup_.num_params()))},
             {"step_flops", setup_.cost.step_flops(config_.data.batch)},
             {"policy_description", policy_description_},
             {"compute_s", compute},
             {"wait_s", wait},
             {"communicate_s", comm},
             {"applied_gradients", monitor_->applied_gradients()},
             {"policy_notes", notes_},
             {"transfers", transfers_},
             {"wall_s", wall},
             {"wall_run_s", run_wall},
             {"wall_eval_s", eval_wall_},
             {"network_model", network_->describe()},
             {"network_choice", network_choice_.reason},
             {"simgrid_settings", options_.simgrid_settings},
             {"time_quantum_s", options_.time_quantum},
             {"evaluation", cpu_->shared() && config_.cluster.software.evaluate_sample > 0
                                ? "a core of the shared machine for its scoring; nothing waits for it"
                                : "free in simulated time"},
             {"cpu", cpu_->shared() ? fmt::format("one machine of {} cores shared by every host", config_.cluster.colocated_cores)
                                    : std::string("a CPU per host")},
             {"software_costs", software_costs_json(config_.cluster.software)},
             {"seed", config_.train.seed},
             {"optimizer", config_.train.optimizer.name},
             {"lr", config_.train.optimizer.lr}};
  // The rate the workers' local steps really used (policy.lr or the optimizer's fallback).
  if (worker_policy_.payload == PayloadKind::ModelDelta)
    s.extra["local_lr"] = local_step_lr(worker_policy_, config_.train.optimizer);
  if (setup_.full) s.extra["device"] = setup_.device;
  return s;
}

}  // namespace synclab::sim
