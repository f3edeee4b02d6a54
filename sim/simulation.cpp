// The simulated run. Design notes (docs/simulator.md has the user-facing version):
// - One actor per worker drives its WorkerCore. A parameter-server shard is a host plus a
//   ServerCore; a push is simulated as a transfer worker -> shard host and handed to the
//   core the instant it arrives; a reply is a transfer shard host -> worker started the
//   instant the core decides it. Transfers go through a NetworkModel (sim.network): SimGrid
//   communications, or the exact star shortcut with one shard.
// - The pull request rides on the push (as a real PS client sends both together), so
//   one iteration costs compute + push transfer + reply transfer.
// - All actors run in one OS thread: cores are called without locks.
// - Math (gradients, optimizer steps, evaluations) takes no simulated time; only the
//   step-time model, transfers and the measured software costs (cluster.software: each
//   shard's events serialized on its ServerThread) advance the clock.
#include "sim/simulation.hpp"

#include <malloc.h>

#include <simgrid/s4u.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/local_lr.hpp"
#include "policies/registry.hpp"
#include "policies/server_core.hpp"
#include "policies/worker_core.hpp"
#include "sim/network_model.hpp"
#include "sim/platform.hpp"
#include "sim/server_thread.hpp"
#include "sim/software_charges.hpp"
#include "core/cost/step_time.hpp"
#include "sim/training_setup.hpp"

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

constexpr double kFloatBytes = 4.0;
constexpr double kProgressWall = 10.0;  // seconds between progress lines of a run without an update limit

struct Shard {
  std::unique_ptr<ServerCore> core;
  sg::Host* host = nullptr;
  Range range;
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
  PullReply reply;
  double started = 0;
};

struct Worker {
  sg::Host* host = nullptr;
  std::unique_ptr<WorkerCore> core;
  sg::ActorPtr actor;
  sg::SemaphorePtr arrived;                 // released once per reply started towards us
  sg::SemaphorePtr cancel_sem;              // released by a CancelStep: ends the step early
  std::vector<std::optional<InFlight>> replies;  // per shard
  std::vector<TransferPtr> in_flight;            // push transfers in flight, one per shard
  std::vector<int> push_shards;                  // shard of each entry of pushes
  std::vector<std::uint32_t> samples_by_clock;   // samples behind each push, for summary.samples
  bool computing = false;                   // a CancelStep now aborts the current step
  bool failed = false;
  bool waiting = false;                      // blocked on the server's replies
  std::uint64_t steps = 0;
  double compute_s = 0, wait_s = 0, communicate_s = 0;
  std::uint64_t pushes = 0, cancelled = 0;
};

class Simulation {
 public:
  Simulation(const RunConfig& config, const std::filesystem::path& dir, const SimOptions& options)
      : config_(config), dir_(dir), options_(options), log_(options.log ? *options.log : std::cerr) {}

  RunSummary run();

 private:
  void build();
  void worker_main(int w);
  void issue_pull(int w);
  void receive_replies(int w);
  void execute(int s, ServerOutbox out);
  void add_software_costs(int s, Shard& shard);
  void serve(int s, double receive, std::function<void(ServerCore&)> event);
  void after_update();
  void evaluate();
  void stop(const std::string& reason, bool is_error, const std::string& error = {});
  void fail_worker(int w);
  double now() const { return sg::Engine::get_clock(); }
  std::vector<float> joined_params() const;
  std::string blocked_workers() const;

  const RunConfig& config_;
  std::filesystem::path dir_;
  SimOptions options_;
  std::ostream& log_;

  TrainingSetup setup_;
  Platform platform_;
  NetworkChoice network_choice_;
  std::unique_ptr<NetworkModel> network_;
  std::unique_ptr<MessageCharges> messages_;  // software cost of encoding / parsing a message
  std::unique_ptr<StepTimeModel> steps_;
  std::unique_ptr<RunWriter> writer_;
  std::vector<Shard> shards_;
  std::vector<Worker> workers_;
  std::string policy_description_;
  WorkerPolicy worker_policy_;
  double last_failure_ = 0;  // simulated time of the latest worker failure
  double latency_ = 0;  // waited by the actor before each transfer (0: the links carry it)

  bool stopping_ = false;
  std::string stop_reason_, error_;
  double stop_time_ = 0;
  std::uint64_t updates_ = 0, samples_ = 0, bytes_sent_ = 0, transfers_ = 0, dropped_ = 0, notes_ = 0;
  std::uint64_t last_eval_update_ = 0, next_progress_ = 0;
  double next_progress_wall_ = kProgressWall;
  bool evaluated_ = false;
  TestResult last_eval_{};
  std::chrono::steady_clock::time_point wall_start_;
  double eval_wall_ = 0;  // wall seconds spent in evaluations (free in simulated time)
};

void Simulation::build() {
  const auto& c = config_.cluster;
  setup_ = make_training_setup(config_);
  validate_policy(config_.policy, c.workers);
  // With one shard, every transfer of a worker is preceded by nothing else of its own, so
  // the latency can be waited out by the worker's actor (exactly the same times, fewer
  // bandwidth re-sharings). Several shards would need concurrent waits: links keep it then.
  platform_ = build_platform(config_, c.servers > 1 || !c.platform.empty());
  latency_ = platform_.transfer_latency;
  network_choice_ = choose_network(config_, options_.simgrid_settings);
  network_ = make_network_model(network_choice_, config_, platform_);

  std::vector<double> base(static_cast<std::size_t>(c.workers));
  const double step_flops = setup_.cost.step_flops(config_.data.batch);
  for (int w = 0; w < c.workers; ++w) {
    const double speed = platform_.workers[static_cast<std::size_t>(w)]->get_speed();
    base[static_cast<std::size_t>(w)] = step_flops / speed;
  }
  steps_ = std::make_unique<StepTimeModel>(c.straggler, config_.train.seed, std::move(base));

  const std::vector<Range> ranges = shard_ranges(setup_.num_params(), c.servers);
  PolicyInstance first = make_policy(config_.policy, c.workers);
  policy_description_ = first.server->describe();
  const WorkerPolicy worker_policy = first.worker;
  worker_policy_ = worker_policy;
  if (setup_.full)
    if (const auto warning = local_lr_warning(config_.policy.name, worker_policy, config_.train.optimizer))
      std::cerr << "sim: " << *warning << "\n";
  for (int s = 0; s < c.servers; ++s) {
    Shard shard;
    shard.host = platform_.servers[static_cast<std::size_t>(s)];
    shard.range = ranges[static_cast<std::size_t>(s)];
    shard.bytes = static_cast<std::uint64_t>(kFloatBytes * static_cast<double>(shard.range.size()));
    ServerCoreOptions o;
    o.range = shard.range;
    o.optimizer = config_.train.optimizer;
    o.timing_only = !setup_.full;
    std::unique_ptr<ServerPolicy> policy = s == 0 ? std::move(first.server) : make_policy(config_.policy, c.workers).server;
    std::span<const float> initial;
    if (setup_.full) initial = std::span<const float>(setup_.initial).subspan(shard.range.begin, shard.range.size());
    shard.core = std::make_unique<ServerCore>(std::move(policy), initial, o);
    add_software_costs(s, shard);
    shards_.push_back(std::move(shard));
  }

  auto setups = make_worker_setups(config_, setup_, worker_policy);
  workers_.resize(static_cast<std::size_t>(c.workers));
  for (int w = 0; w < c.workers; ++w) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    wk.host = platform_.workers[static_cast<std::size_t>(w)];
    wk.core = std::make_unique<WorkerCore>(setups[static_cast<std::size_t>(w)]);
    wk.arrived = sg::Semaphore::create(0);
    wk.cancel_sem = sg::Semaphore::create(0);
    wk.replies.resize(shards_.size());
  }
  for (const auto& f : c.failures)
    if (f.worker < 0 || f.worker >= c.workers)
      throw ConfigError("cluster.failures", fmt::format("worker {} does not exist", f.worker));
}

// The pull request reaches every shard at once (it rides on the push or, for the first
// pull, costs nothing); each shard replies now or holds it.
void Simulation::issue_pull(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  const PullInfo pull = wk.core->next_pull();
  for (std::size_t s = 0; s < shards_.size() && !stopping_; ++s)
    serve(static_cast<int>(s), messages_->receive(0), [pull](ServerCore& c) { c.pull(pull); });
}

void Simulation::receive_replies(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  const double t0 = now();
  wk.waiting = true;
  // One release per reply: after S acquires every shard has replied, and each transfer
  // started the moment its reply was decided.
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    wk.arrived->acquire();
    if (stopping_) return;
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      auto& slot = wk.replies[s];
      if (!slot || slot->comm) continue;
      slot->started = now();
      if (latency_ > 0) {
        sg::this_actor::sleep_for(latency_);  // single shard only: nothing else to start meanwhile
        if (stopping_) return;
      }
      slot->comm = network_->start(shards_[s].host, wk.host, shards_[s].bytes);
      bytes_sent_ += shards_[s].bytes;
      ++transfers_;
    }
  }
  wk.waiting = false;
  if (stopping_) return;
  double last_start = t0;
  Version version = 0;
  std::optional<int> hint;
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    InFlight& in = *wk.replies[s];
    in.comm->wait();
    last_start = std::max(last_start, in.started);
    if (setup_.full) {
      const Range& r = shards_[s].range;
      std::copy(in.reply.params->begin(), in.reply.params->end(), wk.core->params().begin() + static_cast<std::ptrdiff_t>(r.begin));
    }
    if (s == 0) {
      version = in.reply.version;
      hint = in.reply.local_steps;
    }
    wk.replies[s].reset();
  }
  if (messages_->any()) {
    double decode = 0;
    for (const auto& shard : shards_) decode += messages_->receive(shard.bytes);
    sg::this_actor::sleep_for(decode);
    if (stopping_) return;
  }
  wk.wait_s += last_start - t0;
  wk.communicate_s += now() - last_start;
  wk.core->on_params(PulledParams{version, hint});
}

void Simulation::worker_main(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  WorkerCore& core = *wk.core;
  issue_pull(w);
  while (!stopping_) {
    receive_replies(w);
    if (stopping_) return;
    WorkerPush push = core.compute();  // the math; no simulated time
    const int local = std::max(1, push.info.local_steps);
    double seconds = 0;
    for (int i = 0; i < local; ++i) seconds += steps_->seconds(w, wk.steps + static_cast<std::uint64_t>(i), now());
    wk.steps += static_cast<std::uint64_t>(local);
    if (options_.time_quantum > 0) {
      const double q = options_.time_quantum;
      seconds = q * std::max(1.0, std::nearbyint(seconds / q));
    }
    // The step is a timed wait on the cancel semaphore: a CancelStep cuts it short.
    const double t_start = now();
    wk.computing = true;
    const bool finished = wk.cancel_sem->acquire_timeout(seconds);
    wk.computing = false;
    wk.compute_s += now() - t_start;
    if (stopping_) return;
    if (!finished) {
      ++wk.cancelled;
      core.cancelled();
      issue_pull(w);
      continue;
    }
    // Hand the push over to every shard at once; each shard sees it when its bytes arrive.
    const double t1 = now();
    if (messages_->any()) {
      double encode = 0;
      for (const auto& shard : shards_) encode += messages_->worker_push(shard.bytes);
      sg::this_actor::sleep_for(encode);
      if (stopping_) return;
    }
    if (latency_ > 0) {
      sg::this_actor::sleep_for(latency_);
      if (stopping_) return;
    }
    // Kept in the worker, not on this stack: a kill unwinds the stack, and dropping an
    // unfinished transfer there makes SimGrid print a backtrace per transfer.
    std::vector<TransferPtr>& comms = wk.in_flight;
    std::vector<int>& shard_of = wk.push_shards;
    comms.clear();
    shard_of.clear();
    for (auto& shard : shards_) {
      comms.push_back(network_->start(wk.host, shard.host, shard.bytes));
      bytes_sent_ += shard.bytes;
      ++transfers_;
    }
    const PushInfo info = push.info;
    wk.samples_by_clock.push_back(static_cast<std::uint32_t>(push.samples));
    core.pushed();
    ++wk.pushes;
    if (options_.on_push) options_.on_push(now(), w, core.clock());
    const PullInfo pull = core.next_pull();
    for (std::size_t i = 0; i < comms.size(); ++i) shard_of.push_back(static_cast<int>(i));
    while (!comms.empty()) {
      const std::size_t i = network_->wait_any(comms);
      const int s = shard_of[i];
      comms.erase(comms.begin() + static_cast<std::ptrdiff_t>(i));
      shard_of.erase(shard_of.begin() + static_cast<std::ptrdiff_t>(i));
      if (stopping_) return;
      Shard& shard = shards_[static_cast<std::size_t>(s)];
      std::vector<float> payload;  // the copy the core would make; it may be served later
      if (!push.payload.empty()) payload.assign(push.payload.begin() + static_cast<std::ptrdiff_t>(shard.range.begin),
                                                push.payload.begin() + static_cast<std::ptrdiff_t>(shard.range.end));
      serve(s, messages_->receive(shard.bytes),
            [info, p = std::move(payload)](ServerCore& c) mutable { c.push(info, std::move(p)); });
      if (stopping_) return;
      serve(s, messages_->receive(0), [pull](ServerCore& c) { c.pull(pull); });
      if (stopping_) return;
    }
    wk.communicate_s += now() - t1;
  }
}

// Feeds one event to shard s's core on the shard's thread: after the thread is free and
// has spent `receive` seconds on the message, the core decides; its decisions take effect
// once the thread has spent what they cost (ShardCharges). Free events run at once.
void Simulation::serve(int s, double receive, std::function<void(ServerCore&)> event) {
  Shard& shard = shards_[static_cast<std::size_t>(s)];
  shard.thread->submit(receive, [this, s, event = std::move(event)]() -> ServerThread::Outcome {
    if (stopping_) return {};
    Shard& sh = shards_[static_cast<std::size_t>(s)];
    const Version before = sh.core->version();
    event(*sh.core);
    auto out = std::make_shared<ServerOutbox>(sh.core->take_outbox());
    const double seconds = sh.charges->outcome(*out, before, sh.core->version());
    return {seconds, [this, s, out] {
              if (!stopping_) execute(s, std::move(*out));
            }};
  });
}

// The shard's thread and what its events cost (all zero without cluster.software).
void Simulation::add_software_costs(int s, Shard& shard) {
  const auto& sw = config_.cluster.software;
  if (!messages_) messages_ = std::make_unique<MessageCharges>(sw);
  // Model deltas (local-sgd) are added to the params without the optimizer: one pass, as sgd's step.
  const double rate = worker_policy_.payload == PayloadKind::ModelDelta ? sw.apply_sgd : sw.apply(config_.train.optimizer.name);
  shard.charges = std::make_unique<ShardCharges>(sw, rate, shard.range.size(), shard.bytes, s == 0, config_.train.eval_every);
  shard.thread = std::make_unique<ServerThread>(shard.host, fmt::format("server-{}-thread", s), [this, s](const std::string& what) {
    stop("error", true, fmt::format("shard {} at {:.6f} simulated s: {}", s, now(), what));
  });
}

// Executes what a shard decided: replies start their transfers now, timers become daemon
// actors, applied pushes become updates.csv rows (shard 0 speaks for the model version).
void Simulation::execute(int s, ServerOutbox out) {
  Shard& shard = shards_[static_cast<std::size_t>(s)];
  if (out.empty()) return;
  for (const auto& note : out.notes) {
    ++notes_;
    log_ << fmt::format("sim: t={:.6f} shard {}: {}\n", now(), s, note);
  }
  if (s == 0) {
    dropped_ += out.dropped.size();
    for (const auto& a : out.applied) {
      writer_->update(now(), a.update, a.worker, a.staleness, a.loss);
      const auto clock = static_cast<std::size_t>(a.push & 0xffffffffULL);
      const auto& per_clock = workers_[static_cast<std::size_t>(a.worker)].samples_by_clock;
      samples_ += clock < per_clock.size() ? per_clock[clock] : config_.data.batch;
      if (!std::isfinite(a.loss)) {
        stop("diverged", true,
             fmt::format("diverged: the training loss of worker {} became {} at update {} ({:.6f} simulated s); lower "
                         "train.optimizer.lr",
                         a.worker, a.loss, a.update, now()));
        return;
      }
    }
    // A full disk ends the run at its first failed write, not after the last update.
    if (!writer_->write_error().empty()) {
      stop("error", true, writer_->write_error());
      return;
    }
  }
  for (const auto& reply : out.replies) {
    Worker& wk = workers_[static_cast<std::size_t>(reply.worker)];
    if (wk.failed) continue;
    InFlight in;
    in.reply = reply;
    wk.replies[static_cast<std::size_t>(s)] = std::move(in);
    wk.arrived->release();
  }
  for (WorkerId w : out.cancels) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    if (wk.computing && !wk.failed) {
      wk.computing = false;  // one release per step, even if cancelled twice
      wk.cancel_sem->release();
    }
  }
  for (const auto& t : out.timers) {
    const TimerId id = t.id;
    sg::Actor::create("timer", shard.host, [this, s, id, seconds = t.seconds] {
      sg::this_actor::sleep_for(seconds);
      if (stopping_) return;
      try {
        serve(s, 0, [id](ServerCore& c) { c.timer(id); });
      } catch (const std::exception& e) {
        stop("error", true, fmt::format("shard {} timer at {:.6f} simulated s: {}", s, now(), e.what()));
      }
    })->daemonize();
  }
  if (out.stop) {
    stop(out.stop->is_error ? "error" : "policy", out.stop->is_error, out.stop->reason);
    return;
  }
  // The model has version v once every shard has applied v updates.
  if (shard.core->version() > updates_) {
    Version lowest = shard.core->version();
    for (const auto& other : shards_) lowest = std::min(lowest, other.core->version());
    if (lowest != updates_) {
      updates_ = lowest;
      after_update();
    }
  }
}

void Simulation::after_update() {
  const auto& t = config_.train;
  evaluated_ = false;
  if (setup_.full && t.eval_every && updates_ % t.eval_every == 0) evaluate();
  if (!writer_->write_error().empty()) {
    stop("error", true, writer_->write_error());
    return;
  }
  if (options_.log_progress && t.stop_updates && updates_ >= next_progress_) {
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    log_ << fmt::format("sim: update {}/{} at {:.3f} simulated s ({:.1f} s wall){}\n", updates_, t.stop_updates,
                        now(), wall,
                        evaluated_ ? fmt::format(", test accuracy {:.4f}", last_eval_.accuracy) : std::string());
    next_progress_ = updates_ + std::max<std::uint64_t>(1, t.stop_updates / 10);
  } else if (options_.log_progress && !t.stop_updates) {
    // No update count to take tenths of: a line every kProgressWall seconds of wall time.
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
    if (wall >= next_progress_wall_) {
      log_ << fmt::format("sim: update {} at {:.3f}{} simulated s ({:.0f} s wall), last test accuracy {:.4f}{}\n", updates_,
                          now(), t.stop_time > 0 ? fmt::format("/{:g}", t.stop_time) : std::string(), wall,
                          last_eval_.accuracy,
                          t.stop_accuracy > 0 ? fmt::format(" (target {:g})", t.stop_accuracy) : std::string());
      next_progress_wall_ = wall + kProgressWall;
    }
  }
  if (t.stop_updates && updates_ >= t.stop_updates) stop("updates", false);
  else if (t.stop_accuracy > 0 && evaluated_ && last_eval_.accuracy >= t.stop_accuracy) stop("accuracy", false);
}

std::vector<float> Simulation::joined_params() const {
  std::vector<float> all(setup_.full ? setup_.num_params() : 0);
  if (!setup_.full) return all;
  for (const auto& shard : shards_) {
    const auto p = shard.core->params();
    std::copy(p.begin(), p.end(), all.begin() + static_cast<std::ptrdiff_t>(shard.range.begin));
  }
  return all;
}

// Evaluations are free in simulated time: the PS model is scored as of this instant.
void Simulation::evaluate() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> params = joined_params();
  last_eval_ = evaluate_dataset(*setup_.network, params, setup_.data->test, config_.data.eval_samples, kEvalChunk);
  writer_->eval(now(), updates_, samples_, last_eval_.loss, last_eval_.accuracy);
  last_eval_update_ = updates_;
  evaluated_ = true;
  eval_wall_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!std::isfinite(last_eval_.loss)) {
    stop("diverged", true, fmt::format("diverged: the test loss became {} at update {} ({:.6f} simulated s); lower "
                                       "train.optimizer.lr", last_eval_.loss, updates_, now()));
  }
}

void Simulation::stop(const std::string& reason, bool is_error, const std::string& error) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = reason;
  error_ = error;
  stop_time_ = now();
  if (!is_error && !error.empty()) log_ << fmt::format("sim: policy ended the run: {}\n", error);
  // Ends every other actor (workers blocked on replies, timers, failure schedules) at once.
  sg::Actor::kill_all();
}

void Simulation::fail_worker(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  if (wk.failed || stopping_) return;
  wk.failed = true;
  last_failure_ = now();
  log_ << fmt::format("sim: t={:.6f} worker {} fails\n", now(), w);
  // A crashed process stops sending and receiving: its transfers leave the links now.
  // Killed first, so that no one waits on the transfers when they are cancelled.
  auto drop = [](const TransferPtr& c) {
    if (c) c->cancel();
  };
  if (wk.actor) wk.actor->kill();
  for (const auto& c : wk.in_flight) drop(c);
  for (const auto& r : wk.replies)
    if (r) drop(r->comm);
  // The crashed process's connections close: every shard learns of it at once.
  for (std::size_t s = 0; s < shards_.size() && !stopping_; ++s)
    serve(static_cast<int>(s), 0, [w](ServerCore& c) { c.worker_lost(w); });
}

std::string Simulation::blocked_workers() const {
  std::string list;
  int n = 0;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (!workers_[w].waiting || workers_[w].failed) continue;
    if (n < 8) list += (n ? "," : "") + std::to_string(w);
    ++n;
  }
  if (n > 8) list += fmt::format(",... ({} in all)", n);
  return list;
}

RunSummary Simulation::run() {
  wall_start_ = std::chrono::steady_clock::now();
  configure_contexts();
  sg::Engine engine("synclab");
  configure_engine(options_.simgrid_settings);
  build();
  writer_ = std::make_unique<RunWriter>(dir_, config_);
  if (const std::string notice = unbounded_run_notice(config_); !notice.empty()) log_ << "sim: " << notice << "\n";
  if (setup_.full) evaluate();
  if (!writer_->write_error().empty()) throw Error(writer_->write_error());

  for (int w = 0; w < config_.cluster.workers; ++w) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    // An exception escaping an actor would abort the process: end the run with its
    // reason instead. (SimGrid's kill exception is no std::exception and passes through.)
    wk.actor = sg::Actor::create(worker_host_name(w), wk.host, [this, w] {
      try {
        worker_main(w);
      } catch (const std::exception& e) {
        stop("error", true, fmt::format("worker {} at {:.6f} simulated s: {}", w, now(), e.what()));
      }
    });
  }
  for (const auto& f : config_.cluster.failures) {
    const int w = f.worker;
    sg::Actor::create("failure", platform_.servers[0], [this, w, at = f.at] {
      sg::this_actor::sleep_for(at);
      try {
        fail_worker(w);
      } catch (const std::exception& e) {
        stop("error", true, fmt::format("failure of worker {}: {}", w, e.what()));
      }
    })->daemonize();
  }
  if (config_.train.stop_time > 0) {
    sg::Actor::create("clock", platform_.servers[0], [this] {
      sg::this_actor::sleep_for(config_.train.stop_time);
      stop("time", false);
    })->daemonize();
  }
  eval_wall_ = 0;  // count only the evaluations made during the run
  const auto run_start = std::chrono::steady_clock::now();
  engine.run();
  const double run_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  // Transfers cut short by the stop stay unfinished forever, and releasing one makes
  // SimGrid print a backtrace (thousands with thousands of workers). The process ends
  // soon after a simulation (one engine per process), so they are handed to a holder that
  // is never freed.
  static auto* unfinished = new std::vector<TransferPtr>();
  for (auto& wk : workers_) {
    for (auto& c : wk.in_flight) unfinished->push_back(std::move(c));
    for (auto& r : wk.replies)
      if (r && r->comm) unfinished->push_back(std::move(r->comm));
    wk.in_flight.clear();
    wk.replies.clear();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();

  bool all_failed = true;
  for (const auto& wk : workers_) all_failed = all_failed && wk.failed;
  if (!stopping_) {
    stop_time_ = now();
    if (all_failed) {
      stop_time_ = last_failure_;  // transfers orphaned by the crash may have run on after it
      stop_reason_ = "failed";
      error_ = fmt::format("every worker failed (cluster.failures); the last at {:.6f} simulated s, after {} updates",
                           stop_time_, updates_);
    } else {
      stop_reason_ = "deadlock";
      error_ = fmt::format("deadlock at {:.6f} simulated s after {} updates: worker(s) {} wait for replies that "
                           "policy {} never sends",
                           stop_time_, updates_, blocked_workers(), policy_description_);
    }
  }
  if (setup_.full && (!evaluated_ || last_eval_update_ != updates_ || config_.data.eval_samples != 0)) {
    const std::vector<float> params = joined_params();
    last_eval_ = evaluate_dataset(*setup_.network, params, setup_.data->test, 0, kEvalChunk);
    if (last_eval_update_ != updates_) writer_->eval(stop_time_, updates_, samples_, last_eval_.loss, last_eval_.accuracy);
  }

  RunSummary s;
  s.backend = "sim";
  s.policy = config_.policy.name;
  s.workers = config_.cluster.workers;
  s.updates = updates_;
  s.samples = samples_;
  s.time_s = stop_time_;
  s.final_test_accuracy = setup_.full ? last_eval_.accuracy : 0.0;
  s.final_test_loss = setup_.full ? last_eval_.loss : 0.0;
  s.mean_staleness = writer_->mean_staleness();
  s.max_staleness = writer_->max_staleness();
  s.bytes_sent = bytes_sent_;
  s.final_params_sha256 = setup_.full ? sha256_hex(joined_params()) : "";
  s.stop_reason = stop_reason_;
  nlohmann::json per_worker = nlohmann::json::array();
  double compute = 0, wait = 0, comm = 0;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const Worker& wk = workers_[w];
    compute += wk.compute_s;
    wait += wk.wait_s;
    comm += wk.communicate_s;
    per_worker.push_back({{"worker", w}, {"compute_s", wk.compute_s}, {"wait_s", wk.wait_s},
                          {"communicate_s", wk.communicate_s}, {"steps", wk.steps}, {"pushes", wk.pushes},
                          {"cancelled", wk.cancelled}, {"failed", wk.failed}});
  }
  std::uint64_t applied = 0, dropped_all = 0;
  for (const auto& shard : shards_) {
    applied += shard.core->applied_pushes();
    dropped_all += shard.core->dropped_pushes();
  }
  s.extra = {{"mode", config_.sim.mode},
             {"model", config_.model},
             {"num_params", setup_.num_params()},
             {"param_bytes", static_cast<std::uint64_t>(kFloatBytes * static_cast<double>(setup_.num_params()))},
             {"step_flops", setup_.cost.step_flops(config_.data.batch)},
             {"servers", config_.cluster.servers},
             {"policy_description", policy_description_},
             {"updates_per_s", stop_time_ > 0 ? static_cast<double>(updates_) / stop_time_ : 0.0},
             {"compute_s", compute},
             {"wait_s", wait},
             {"communicate_s", comm},
             {"per_worker", per_worker},
             {"applied_pushes_shard0", shards_.empty() ? 0 : shards_[0].core->applied_pushes()},
             {"dropped_pushes", dropped_},
             {"policy_notes", notes_},
             {"transfers", transfers_},
             {"wall_s", wall},
             {"wall_run_s", run_wall},
             {"wall_eval_s", eval_wall_},
             {"network_model", network_->describe()},
             {"network_choice", network_choice_.reason},
             {"simgrid_settings", options_.simgrid_settings},
             {"time_quantum_s", options_.time_quantum},
             {"evaluation", "free in simulated time"},
             {"software_costs", software_costs_json(config_.cluster.software)},
             {"seed", config_.train.seed},
             {"optimizer", config_.train.optimizer.name},
             {"lr", config_.train.optimizer.lr}};
  // The rate the workers' local steps really used (policy.lr or the optimizer's fallback).
  if (worker_policy_.payload == PayloadKind::ModelDelta)
    s.extra["local_lr"] = local_step_lr(worker_policy_, config_.train.optimizer);
  if (!error_.empty()) s.extra["error"] = error_;
  if (setup_.full) s.extra["device"] = setup_.device;
  (void)applied;
  (void)dropped_all;
  try {
    writer_->finish(s);
  } catch (const Error& e) {
    // Say both when the run had failed already and its directory cannot be completed.
    if (error_.empty() || error_ == e.what()) throw;
    throw Error(error_ + "; and the run directory is incomplete: " + e.what());
  }
  if (stop_reason_ == "deadlock" || stop_reason_ == "failed" || stop_reason_ == "error" ||
      stop_reason_ == "diverged")
    throw Error(error_);
  return s;
}

}  // namespace

RunSummary simulate(const RunConfig& config, const std::filesystem::path& dir, const SimOptions& options) {
  // Pushes, snapshots and replies allocate and free model-sized buffers all the time. By
  // default glibc maps each one freshly (page faults on every touch, a fifth of a CNN
  // run); keeping them on the heap reuses the same pages. One simulation per process, so
  // the process-wide setting is ours to choose.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
  Simulation sim(config, dir, options);
  return sim.run();
}

}  // namespace synclab::sim
