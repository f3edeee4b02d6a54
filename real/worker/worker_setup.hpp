#pragma once
// The data, network and policy side of one worker, built the same way by the real worker
// process and by tests that replay the job in the in-process driver (bit-identical runs
// need identical shards, samplers and seeds).
#include <memory>
#include <string>

#include "core/config/run_config.hpp"
#include "core/data/dataset.hpp"
#include "policies/worker_core.hpp"

namespace synclab::real {

struct WorkerResources {
  ModelSpec spec;
  DataSplit data;
  std::unique_ptr<Network> network;
  std::unique_ptr<BatchSampler> sampler;
  WorkerSetup setup;        ///< points at network and sampler above
  std::string device;       ///< "cpu" or "cuda:N", as chosen
};

/// Loads the data, takes worker w's shard, builds the network on `device` (auto | cpu |
/// cuda | cuda:N; auto falls back to the CPU backend when no GPU works) and the policy's
/// worker side. Throws ConfigError naming worker.device for a bad device.
std::unique_ptr<WorkerResources> make_worker_resources(const RunConfig& config, int worker, const std::string& device);

}  // namespace synclab::real
