#pragma once
// Shared helpers of the policy tests: a tiny softmax model on synthetic data, worker setups
// over seeded shards, and random schedules for the in-process driver.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backends/network.hpp"
#include "core/common/rng.hpp"
#include "core/data/dataset.hpp"
#include "policies/inproc_driver.hpp"
#include "policies/registry.hpp"

namespace synclab::test {

/// Softmax regression on a small synthetic set; one network and sampler per worker.
struct TinyProblem {
  ModelSpec spec;
  Dataset train;
  std::vector<float> initial;
  std::vector<std::unique_ptr<Network>> nets;
  std::vector<std::unique_ptr<BatchSampler>> samplers;
  std::vector<std::vector<std::uint32_t>> shards;
  std::size_t batch = 0;
  std::uint64_t seed = 1;

  TinyProblem(int workers, std::size_t batch_size, std::uint64_t seed_value, std::size_t samples = 400);
  /// Seed of worker w's batch sampler.
  std::uint64_t sampler_seed(int w) const { return derive_seed(seed, 0x5a, static_cast<std::uint64_t>(w)); }
  /// WorkerSetups in full mode for the given policy.
  std::vector<WorkerSetup> setups(const WorkerPolicy& policy, double lr);
};

/// WorkerSetups in timing mode (no math) for `workers` workers.
std::vector<WorkerSetup> timing_setups(int workers, const WorkerPolicy& policy, std::size_t num_params = 64);

/// A policy spec from a name and key/value pairs.
PolicySpec policy_spec(const std::string& name, std::map<std::string, std::string> params = {});

/// Random compute times (one slow worker, heavy-tailed noise) and latencies from a seed.
void random_schedule(InprocOptions& options, std::uint64_t seed, int workers);

/// Counts of trace events of one kind.
std::size_t count_events(const InprocResult& r, InprocEvent::Kind kind);

}  // namespace synclab::test
