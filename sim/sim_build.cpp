// Building a simulated run: the platform, the network and step-time models, one ServerCore
// per shard and one WorkerCore per worker.
#include "sim/sim_run.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "policies/local_lr.hpp"
#include "policies/registry.hpp"

namespace synclab::sim {
namespace {

// Segments per chunk of a transfer's kernel work, at least; their time at the link's rate is
// the pacer's tick (a step of the discretisation: a step of hundreds of microseconds sees
// several; halved, docs/fidelity.md, "The kernel's work follows the bytes").
constexpr std::uint64_t kKernelChunkSegments = 8;

}  // namespace

void Simulation::build() {
  const auto& c = config_.cluster;
  setup_ = make_training_setup(config_);
  validate_policy(config_.policy, c.workers);
  // With one shard, every transfer of a worker is preceded by nothing else of its own, so
  // the latency can be waited out by the worker's actor (exactly the same times, fewer
  // bandwidth re-sharings). Several shards would need concurrent waits: links keep it then.
  platform_ = build_platform(config_, c.servers > 1 || !c.platform.empty());
  latency_ = platform_.transfer_latency;
  // A transfer's kernel work keeps pace with its own packets, which come at most at the rate
  // of the slower of its two links; the pacer looks at every transfer a chunk's time apart.
  const double byte_rate = std::min(c.link.bandwidth, c.ps_link.value_or(c.link).bandwidth);
  cpu_ = platform_.cores.empty() ? std::make_unique<MachineCpu>()
                                 : std::make_unique<MachineCpu>(platform_.cores, c.software.kernel_byte * byte_rate,
                                                                derive_seed(config_.train.seed, 0xc07e5),
                                                                c.software.wake_on_busy_core);
  kernel_ = std::make_unique<KernelPacer>(*cpu_, platform_.cores.empty() ? platform_.servers.front() : platform_.cores.front(),
                                          kKernelChunkSegments * config_.sim.packet_segment, byte_rate);
  network_choice_ = choose_network(config_, options_.simgrid_settings);
  network_ = make_network_model(network_choice_, config_, platform_);
  if (config_.sim.trace) {
    trace_ = std::make_unique<LinkTrace>(dir_ / "trace", network_choice_.model == "packet");
    if (!network_->trace_to(trace_.get()))
      throw ConfigError("sim.trace", fmt::format("network model {} ({}) cannot be traced: it needs the built star with one "
                                                 "shard (sim.network star or packet)",
                                                 network_choice_.model, network_choice_.reason));
  }

  std::vector<double> base(static_cast<std::size_t>(c.workers));
  const double step_flops = setup_.cost.step_flops(config_.data.batch);
  for (int w = 0; w < c.workers; ++w) {
    const double speed = platform_.workers[static_cast<std::size_t>(w)]->get_speed();
    base[static_cast<std::size_t>(w)] = step_flops / speed;
  }
  steps_ = std::make_unique<StepTimeModel>(c.straggler, config_.train.seed, std::move(base));
  if (cpu_->shared()) step_work_ = step_flops / (c.gpu.flops * c.gpu.efficiency);

  ranges_ = std::make_unique<ShardSet>(setup_.num_params(), c.servers);
  PolicyInstance first = make_policy(config_.policy, c.workers);
  policy_description_ = first.server->describe();
  worker_policy_ = first.worker;
  if (setup_.full)
    if (const auto warning = local_lr_warning(config_.policy.name, worker_policy_, config_.train.optimizer))
      std::cerr << "sim: " << *warning << "\n";
  for (int s = 0; s < c.servers; ++s) {
    const Range& range = ranges_->range(s);
    Shard shard;
    shard.host = platform_.servers[static_cast<std::size_t>(s)];
    shard.bytes = static_cast<std::uint64_t>(kFloatBytes * static_cast<double>(range.size()));
    ServerCoreOptions o;
    o.range = range;
    o.optimizer = config_.train.optimizer;
    o.timing_only = !setup_.full;
    std::unique_ptr<ServerPolicy> policy = s == 0 ? std::move(first.server) : make_policy(config_.policy, c.workers).server;
    std::span<const float> initial;
    if (setup_.full) initial = std::span<const float>(setup_.initial).subspan(range.begin, range.size());
    shard.core = std::make_unique<ServerCore>(std::move(policy), initial, o);
    add_software_costs(s, shard);
    shards_.push_back(std::move(shard));
  }

  auto setups = make_worker_setups(config_, setup_, worker_policy_);
  workers_.resize(static_cast<std::size_t>(c.workers));
  for (int w = 0; w < c.workers; ++w) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    wk.host = platform_.workers[static_cast<std::size_t>(w)];
    wk.core = std::make_unique<WorkerCore>(setups[static_cast<std::size_t>(w)]);
    wk.arrived = sg::Semaphore::create(0);
    wk.cancel_sem = sg::Semaphore::create(0);
    wk.replies.resize(shards_.size());
    wk.figures.worker = w;
    wk.figures.device = setup_.full ? setup_.device : std::string();
    // Refuses speed factors above 1: a process cannot run faster than a core of its machine.
    if (cpu_->shared()) wk.emulation = std::make_unique<StepEmulation>(config_, w);
  }
  for (const auto& f : c.failures)
    if (f.worker < 0 || f.worker >= c.workers)
      throw ConfigError("cluster.failures", fmt::format("worker {} does not exist", f.worker));
}

// The shard's thread and what its events cost (all zero without cluster.software).
void Simulation::add_software_costs(int s, Shard& shard) {
  const auto& sw = config_.cluster.software;
  if (!messages_) messages_ = std::make_unique<MessageCharges>(sw);
  // Model deltas (local-sgd) are added to the params without the optimizer: one pass, as sgd's step.
  const double rate = worker_policy_.payload == PayloadKind::ModelDelta ? sw.apply_sgd : sw.apply(config_.train.optimizer.name);
  shard.charges = std::make_unique<ShardCharges>(sw, rate, ranges_->range(s).size(), shard.bytes, s == 0, config_.train.eval_every);
  shard.thread = std::make_unique<ServerThread>(shard.host, *cpu_, fmt::format("server-{}-thread", s),
                                                [this, s](const std::string& what) {
                                                  fail(fmt::format("shard {} at {:.6f} simulated s: {}", s, now(), what));
                                                });
}

}  // namespace synclab::sim
