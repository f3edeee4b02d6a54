#pragma once
// The state of one simulated run (sim/simulation.cpp has the design notes): the shards,
// the workers and the run monitor, shared by the files that implement it. Internal to sim/.
#include <simgrid/s4u.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cost/step_emulation.hpp"
#include "core/cost/step_time.hpp"
#include "core/run/run_monitor.hpp"
#include "policies/server_core.hpp"
#include "policies/shard_set.hpp"
#include "policies/worker_core.hpp"
#include "sim/kernel_pacer.hpp"
#include "sim/link_trace.hpp"
#include "sim/machine_cpu.hpp"
#include "sim/network_model.hpp"
#include "sim/platform.hpp"
#include "sim/server_thread.hpp"
#include "sim/software_charges.hpp"
#include "sim/simulation.hpp"
#include "sim/training_setup.hpp"

namespace synclab::sim {

namespace sg = simgrid::s4u;

constexpr double kFloatBytes = 4.0;
constexpr double kProgressWall = 10.0;  // seconds between progress lines of a run without an update limit

struct Shard {
  std::unique_ptr<ServerCore> core;
  sg::Host* host = nullptr;
  std::uint64_t bytes = 0;  // simulated size of a push or a reply for this shard
  std::unique_ptr<ServerThread> thread;   // the shard's events, one at a time
  std::unique_ptr<ShardCharges> charges;  // what each event's decisions cost that thread
};

// A reply to a worker: decided by a shard (in whichever actor fed it the event), then
// transferred by the worker's own actor, which wakes at that same simulated instant. Each
// actor thus owns only its own few transfers: SimGrid keeps an actor's activities in a
// list searched linearly, so one actor starting thousands of replies (an ssp release of
// 10,000 workers) would make every completion cost thousands of steps.
struct InFlight {
  TransferPtr comm;
  KernelPacer::SharePtr kernel;  // the kernel's work of moving it (colocated hosts only)
  PullReply reply;
  double start_at = 0;  // when its bytes begin to leave: its shard's thread writes it then
};

struct Worker {
  sg::Host* host = nullptr;
  std::unique_ptr<WorkerCore> core;
  sg::ActorPtr actor;
  sg::SemaphorePtr arrived;                 // released once per reply started towards us
  sg::SemaphorePtr cancel_sem;              // released by a CancelStep: ends the step early
  std::vector<std::optional<InFlight>> replies;  // per shard
  std::vector<TransferPtr> in_flight;            // push transfers in flight, one per shard
  std::vector<int> push_shards;                  // shard of each entry of in_flight
  std::vector<std::size_t> ready_replies;        // shards whose reply is due to start, earliest first
  std::vector<KernelPacer::SharePtr> push_kernel;  // the kernel's work of each (colocated hosts only)
  sg::ExecPtr step_work;                    // the step's CPU work in progress (colocated hosts only)
  std::unique_ptr<StepEmulation> emulation;  // its slowdown and straggler wait (colocated hosts only)
  bool computing = false;                   // a CancelStep now aborts the current step
  bool waiting = false;                      // blocked on the server's replies
  double step_ended = -1;                    // when its last step ended (< 0: none yet)
  double lumped_owed = 0;                    // extra step time drawn but not yet waited (< 0: ahead)
  WorkerFigures figures;                     // its summary.json per_worker entry
};

class Simulation {
 public:
  Simulation(const RunConfig& config, const std::filesystem::path& dir, const SimOptions& options)
      : config_(config), dir_(dir), options_(options), log_(options.log ? *options.log : std::cerr) {}

  RunSummary run();

 private:
  void build();
  // The gradient path of one worker, in the order it happens.
  void worker_main(int w);
  void receive_replies(int w);
  double start_steps(Worker& wk, int local_steps);
  double step_seconds(int w, int local_steps);
  bool step_on_machine(int w, int local_steps);
  double lumped_extra(int w, double extra);
  void push_to_shards(int w, const WorkerPush& push);
  void issue_pull(int w);
  // The server side: a shard's events on its thread, executing its decisions, and the monitor's.
  void serve(int s, double receive, std::function<void(ServerCore&)> event, std::size_t woken_on = SIZE_MAX);
  void execute(int s, ServerOutbox out);
  void add_software_costs(int s, Shard& shard);
  void act(const MonitorActions& actions);
  void evaluate(const EvalPoint& at);
  void fail(const std::string& what);
  void fail_worker(int w);
  void progress();
  bool stopped() const { return monitor_->stopped(); }
  double now() const { return sg::Engine::get_clock(); }
  /// CPU seconds the kernel spends moving `bytes` (colocated hosts; cluster.software.kernel_byte).
  double kernel_seconds(std::uint64_t bytes) const { return config_.cluster.software.kernel_byte * static_cast<double>(bytes); }
  std::vector<float> joined_params() const;
  std::string blocked_workers() const;
  RunSummary summary(double wall, double run_wall) const;

  const RunConfig& config_;
  std::filesystem::path dir_;
  SimOptions options_;
  std::ostream& log_;

  TrainingSetup setup_;
  Platform platform_;
  NetworkChoice network_choice_;
  std::unique_ptr<LinkTrace> trace_;  // sim.trace; declared before the network, which points to it
  std::unique_ptr<NetworkModel> network_;
  std::unique_ptr<MessageCharges> messages_;  // software cost of encoding / parsing a message
  std::unique_ptr<MachineCpu> cpu_;           // where software spends its seconds
  std::unique_ptr<KernelPacer> kernel_;       // charges each transfer's kernel work as its bytes arrive
  double step_work_ = 0;                      // colocated: CPU seconds of one step at speed 1
  std::vector<sg::ExecPtr> eval_work_;        // colocated: evaluations scoring on the PS's helper thread
  std::unique_ptr<StepTimeModel> steps_;
  std::unique_ptr<RunWriter> writer_;
  std::unique_ptr<RunMonitor> monitor_;
  std::unique_ptr<ShardSet> ranges_;
  std::vector<Shard> shards_;
  std::vector<Worker> workers_;
  std::string policy_description_;
  WorkerPolicy worker_policy_;
  double latency_ = 0;  // waited by the actor before each transfer (0: the links carry it)
  bool running_ = false;  // the engine runs actors: a stop ends them

  std::uint64_t bytes_sent_ = 0, transfers_ = 0, notes_ = 0;
  std::uint64_t next_progress_ = 0;
  double next_progress_wall_ = kProgressWall;
  std::chrono::steady_clock::time_point wall_start_;
  double eval_wall_ = 0;  // wall seconds spent in evaluations (free in simulated time)
};

}  // namespace synclab::sim
