#pragma once
// Model, data and per-worker state of a run, built identically by the simulator and by the
// tests that compare it with the in-process driver of the policies.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backends/network.hpp"
#include "core/config/run_config.hpp"
#include "core/cost/cost_model.hpp"
#include "core/data/dataset.hpp"
#include "core/models/model_spec.hpp"
#include "policies/worker_core.hpp"

namespace synclab::sim {

/// Everything a run computes with. In timing mode only `cost` is filled.
struct TrainingSetup {
  bool full = true;                       ///< sim.mode == full
  ModelCost cost;                         ///< FLOPs and bytes of config.model
  ModelSpec spec;                         ///< full mode only
  std::unique_ptr<DataSplit> data;        ///< full mode only; heap-held so samplers' pointers survive moves
  std::unique_ptr<Network> network;       ///< shared by every worker and the evaluations
  std::string device = "cpu";             ///< where `network` computes: "cpu" or "cuda:N" (worker.device)
  std::vector<BatchSampler> samplers;     ///< one per worker, over its shard of the training set
  std::vector<float> initial;             ///< initial flat params (full mode)
  std::size_t num_params() const { return cost.num_params; }
};

/// Loads the model, data and samplers of `config` (full mode) or its cost only (timing).
/// Throws ConfigError("model", ...) when full mode is asked of a cost-only profile.
TrainingSetup make_training_setup(const RunConfig& config);

/// One WorkerSetup per worker over `setup`, with the worker half of the configured policy.
std::vector<WorkerSetup> make_worker_setups(const RunConfig& config, TrainingSetup& setup, const WorkerPolicy& policy);

}  // namespace synclab::sim
