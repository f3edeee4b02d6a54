#include "real/worker/worker_setup.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/backends/device.hpp"
#include "core/common/error.hpp"
#include "core/cost/cost_model.hpp"
#include "core/run/network_threads.hpp"
#include "policies/registry.hpp"

namespace synclab::real {

namespace {

// The device comes from select_device (probes, resolves, logs the choice); a GPU that is
// counted but cannot be used falls back to the CPU only when the user asked for "auto".
std::unique_ptr<Network> make_on_device(const ModelSpec& spec, const std::string& device, const NetworkOptions& base, std::string& chosen) {
  const DeviceChoice d = select_device(device, "worker.device");
  NetworkOptions o = base;
  o.device = d.ordinal;
  try {
    auto net = make_network(spec, d.backend, o);
    chosen = d.label();
    return net;
  } catch (const Error& e) {
    if (device != "auto" || d.backend != BackendKind::Cuda) throw;
    spdlog::warn("worker.device auto: {} is present but unusable ({}); using the CPU backend", d.label(), e.what());
    chosen = "cpu";
    return make_network(spec, BackendKind::Fast, base);
  }
}

}  // namespace

std::unique_ptr<WorkerResources> make_worker_resources(const RunConfig& config, int worker, const std::string& device) {
  const int workers = config.cluster.workers;
  if (worker < 0 || worker >= workers) throw ConfigError("--task_index", fmt::format("worker {} not in [0, {})", worker, workers));
  auto r = std::make_unique<WorkerResources>();
  r->spec = make_model_spec(config.model);
  // The device first: a worker that cannot have its device fails in milliseconds, before
  // seconds of data loading, so a launch whose every worker fails ends quickly.
  NetworkOptions no;
  no.max_batch = config.data.batch;
  no.threads = network_threads(config.train.threads);
  r->network = make_on_device(r->spec, device, no, r->device);
  r->data = load_data(config.data.source, config.train.seed);
  auto shards = shard_indices(r->data.train, workers, config.data.sharding, config.data.classes_per_worker, config.train.seed);
  r->sampler = std::make_unique<BatchSampler>(r->data.train, std::move(shards[static_cast<std::size_t>(worker)]), config.data.batch,
                                              worker_sampler_seed(config.train.seed, worker));
  WorkerSetup& s = r->setup;
  s.worker = worker;
  s.seed = config.train.seed;
  s.policy = make_policy(config.policy, workers).worker;
  s.lr = config.train.optimizer.lr;
  s.num_params = r->spec.num_params();
  s.step_flops = model_cost(r->spec).step_flops(config.data.batch);
  s.batch = config.data.batch;
  s.network = r->network.get();
  s.sampler = r->sampler.get();
  return r;
}

}  // namespace synclab::real
