#include "sim/training_setup.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/backends/device.hpp"
#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/run/network_threads.hpp"
#include "core/run/run_writer.hpp"

namespace synclab::sim {

TrainingSetup make_training_setup(const RunConfig& config) {
  TrainingSetup s;
  if (config.sim.mode != "full" && config.sim.mode != "timing")
    throw ConfigError("sim.mode", "unknown '" + config.sim.mode + "' (full | timing)");
  s.full = config.sim.mode == "full";
  s.cost = cost_by_name(config.model);
  if (!s.full) return s;
  if (!s.cost.trainable)
    throw ConfigError("model", fmt::format("'{}' is a cost-only profile: use sim.mode timing", config.model));
  s.spec = make_model_spec(config.model);
  s.data = std::make_unique<DataSplit>(load_data(config.data.source, config.train.seed));
  if (s.spec.input_size() != s.data->train.sample_size())
    throw ConfigError("model", fmt::format("{} expects {} inputs per sample but {} samples have {}", s.spec.name,
                                           s.spec.input_size(), s.data->train.name, s.data->train.sample_size()));
  NetworkOptions net;
  net.max_batch = std::max(config.data.batch, kEvalBatch);
  net.threads = network_threads(config.train.threads);
  // worker.device names where the simulated workers' gradients are computed (as real
  // workers would); simulated time still comes from cluster.gpu.
  const DeviceChoice device = select_run_device(config.worker.device, config.train.backend);
  net.device = device.ordinal;
  s.device = device.label();
  s.network = make_network(s.spec, device.backend, net);
  const int workers = config.cluster.workers;
  auto shards = shard_indices(s.data->train, workers, config.data.sharding, config.data.classes_per_worker,
                              config.train.seed);
  s.samplers.reserve(static_cast<std::size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    auto& idx = shards[static_cast<std::size_t>(w)];
    if (idx.empty()) throw ConfigError("cluster.workers", fmt::format("worker {} has no training samples", w));
    s.samplers.emplace_back(s.data->train, std::move(idx), config.data.batch,
                            worker_sampler_seed(config.train.seed, w));
  }
  s.initial.resize(s.spec.num_params());
  init_params(s.spec, s.initial.data(), config.train.seed);
  return s;
}

std::vector<WorkerSetup> make_worker_setups(const RunConfig& config, TrainingSetup& setup, const WorkerPolicy& policy) {
  std::vector<WorkerSetup> out;
  out.reserve(static_cast<std::size_t>(config.cluster.workers));
  for (int w = 0; w < config.cluster.workers; ++w) {
    WorkerSetup ws;
    ws.worker = w;
    ws.seed = config.train.seed;
    ws.policy = policy;
    ws.lr = config.train.optimizer.lr;
    ws.num_params = setup.num_params();
    ws.step_flops = setup.cost.step_flops(config.data.batch);
    ws.batch = config.data.batch;
    if (setup.full) {
      ws.network = setup.network.get();
      ws.sampler = &setup.samplers[static_cast<std::size_t>(w)];
    }
    out.push_back(std::move(ws));
  }
  return out;
}

}  // namespace synclab::sim
