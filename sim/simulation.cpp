// The simulated run. Design notes (docs/simulator.md has the user-facing version):
// - One actor per worker drives its WorkerCore. A parameter-server shard is a host plus a
//   ServerCore; a push is simulated as a transfer worker -> shard host and handed to the
//   core the instant it arrives; a reply is a transfer shard host -> worker started when
//   the shard's thread writes it (the instant the core decides it, without software
//   costs). Transfers go through a NetworkModel (sim.network): SimGrid communications, or
//   the exact star shortcut with one shard.
// - The pull request rides on the push (as a real PS client sends both together), so
//   one iteration costs compute + push transfer + reply transfer.
// - All actors run in one OS thread: cores are called without locks.
// - Math (gradients, optimizer steps, evaluations) takes no simulated time; only the
//   step-time model, transfers and the measured software costs (cluster.software: each
//   shard's events serialized on its ServerThread) advance the clock.
// - The run monitor (core/run/run_monitor.hpp) decides when to evaluate and when to stop
//   and does the counting; this file tells it what happened and executes its answers.
// - Split: sim_run.hpp (the run's state), sim_build.cpp (building it), sim_report.cpp
//   (progress lines and summary), this file (the gradient path and the run).
#include "sim/simulation.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "sim/sim_run.hpp"

namespace synclab::sim {

// One worker: wait for the parameters, compute (the math takes no simulated time; the
// step-time model says how long it lasts), push to every shard with the next pull riding
// on it, and again.
void Simulation::worker_main(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  WorkerCore& core = *wk.core;
  issue_pull(w);
  while (!stopped()) {
    receive_replies(w);
    if (stopped()) return;
    const WorkerPush push = core.compute();
    const int local = std::max(1, push.info.local_steps);
    const double t_start = now();
    bool finished = false;
    if (cpu_->shared()) {
      finished = step_on_machine(w, local);
    } else {
      // The step is a timed wait on the cancel semaphore: a CancelStep cuts it short.
      const double seconds = step_seconds(w, local);
      wk.computing = true;
      finished = wk.cancel_sem->acquire_timeout(seconds);
      wk.computing = false;
    }
    wk.figures.compute_s += now() - t_start;
    wk.step_ended = now();
    if (stopped()) return;
    if (!finished) {
      ++wk.figures.cancelled;
      core.cancelled();
      issue_pull(w);
      continue;
    }
    push_to_shards(w, push);
  }
}

// Waits for one reply per shard; each reply's transfer starts when its shard's thread
// writes it into its socket (at once without cluster.software.write_byte). The worker then
// holds the joined parameters (policies/shard_set.hpp).
void Simulation::receive_replies(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  const double t0 = now();
  wk.waiting = true;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    wk.arrived->acquire();
    if (stopped()) return;
    // Each reply starts when its shard's thread writes it, the earliest first.
    std::vector<std::size_t>& ready = wk.ready_replies;  // reused: no allocation per reply
    ready.clear();
    for (std::size_t s = 0; s < shards_.size(); ++s)
      if (wk.replies[s] && !wk.replies[s]->comm) ready.push_back(s);
    std::stable_sort(ready.begin(), ready.end(),
                     [&](std::size_t a, std::size_t b) { return wk.replies[a]->start_at < wk.replies[b]->start_at; });
    for (const std::size_t s : ready) {
      auto& slot = wk.replies[s];
      if (slot->start_at > now()) {
        sg::this_actor::sleep_until(slot->start_at);
        if (stopped()) return;
      }
      if (latency_ > 0) {
        sg::this_actor::sleep_for(latency_);  // single shard only: nothing else to start meanwhile
        if (stopped()) return;
      }
      slot->comm = network_->start(shards_[s].host, wk.host, shards_[s].bytes);
      // All of the transfer's kernel work, its first write's included: the shard's thread
      // only waited out that write (ServerThread).
      slot->kernel = kernel_->follow(slot->comm, shards_[s].bytes, kernel_seconds(shards_[s].bytes));
      bytes_sent_ += shards_[s].bytes;
      ++transfers_;
    }
  }
  wk.waiting = false;
  double last_start = t0;
  PullJoin join;
  std::size_t woken_on = SIZE_MAX;  // the core whose packets ended the worker's last wait
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    InFlight& in = *wk.replies[s];
    const double waited_from = now();
    const std::size_t core = in.kernel ? in.kernel->core : SIZE_MAX;
    in.comm->wait();
    kernel_->finish(in.kernel);
    if (now() > waited_from) woken_on = core;
    last_start = std::max(last_start, in.comm->first_byte_at());
    join.add(in.reply.version, in.reply.local_steps);
    if (setup_.full) ranges_->place(wk.core->params(), static_cast<int>(s), *in.reply.params);
    wk.replies[s].reset();
  }
  if (woken_on != SIZE_MAX) cpu_->woken_on(woken_on);
  if (messages_->any()) {
    double decode = 0;
    for (const auto& shard : shards_) decode += messages_->receive(shard.bytes);
    cpu_->spend(decode);
    if (stopped()) return;
  }
  // As a real worker counts: waiting until the last reply's first byte arrives (its time
  // queued at the shard's egress included), communicating from then until all are in.
  wk.figures.wait_s += last_start - t0;
  wk.figures.communicate_s += now() - last_start;
  wk.core->on_params(join.result());
}

// Counts the steps a worker starts now; returns what the first of them adds: a real worker's
// first step also starts its math backend up (cluster.software.first_step), and a step after
// a wait runs on a core that idled meanwhile (cluster.software.step_after_wait); the local
// steps after it follow at once.
double Simulation::start_steps(Worker& wk, int local_steps) {
  const auto& sw = config_.cluster.software;
  double startup = 0;
  if (wk.figures.steps == 0) startup = sw.first_step;
  else if (wk.step_ended >= 0) startup = sw.after_wait(now() - wk.step_ended);
  wk.figures.steps += static_cast<std::uint64_t>(local_steps);
  wk.figures.samples += config_.data.batch * static_cast<std::uint64_t>(local_steps);
  return startup;
}

double Simulation::step_seconds(int w, int local_steps) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  double seconds = 0;
  for (int i = 0; i < local_steps; ++i) seconds += steps_->seconds(w, wk.figures.steps + static_cast<std::uint64_t>(i), now());
  seconds += start_steps(wk, local_steps);
  if (options_.time_quantum > 0) {
    const double q = options_.time_quantum;
    seconds = q * std::max(1.0, std::nearbyint(seconds / q));
  }
  return seconds;
}

// A step on the machine the hosts share: the step's own work (and the backend's start-up on
// the first) is CPU work that competes for the cores; a slowed or noisy worker then waits
// the rest of its step without a core, as a real one does (core/cost/step_emulation.hpp).
// Returns false when a CancelStep cut it short.
bool Simulation::step_on_machine(int w, int local_steps) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  const bool first = wk.figures.steps == 0;  // the backend's start-up rides on it
  const double work = step_work_ * local_steps + start_steps(wk, local_steps);
  const double t0 = now();
  wk.computing = true;
  wk.step_work = cpu_->start(work);
  if (wk.step_work) {
    try {
      wk.step_work->wait();
    } catch (const simgrid::CancelException&) {
      wk.step_work = nullptr;
      return false;  // execute() has already cleared `computing`
    }
    wk.step_work = nullptr;
  }
  if (!wk.computing) return false;  // cancelled at the instant the work ended
  // As the real worker: the noise is drawn when the measured part ends (core/cost/step_emulation.hpp).
  const double took = now() - t0;
  // The first step's extra is the start-ups of every worker sharing the cores at once, not a
  // step beside a transfer: it is not redrawn as one.
  const double pad = wk.emulation->pad(took, local_steps, now()) + (first ? 0 : lumped_extra(w, took - work));
  const bool finished = pad <= 0 || wk.cancel_sem->acquire_timeout(pad);
  wk.computing = false;
  return finished;
}

// The cores share out the kernel's work evenly (a fluid), where a real step is either missed
// by the softirq or held up by a whole batch of it: calibrate's spread of a step's extra
// time beside a transfer redraws each step's extra, mean kept. A draw below the even share
// is owed to the worker and taken off its next waits, since the core time is spent already.
double Simulation::lumped_extra(int w, double extra) {
  const auto& sw = config_.cluster.software;
  if (sw.beside_kernel.empty() || !(extra > 0)) return 0;
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  constexpr std::uint64_t kLumpStream = 0x1a3bed;
  Rng rng(derive_seed(config_.train.seed, kLumpStream, static_cast<std::uint64_t>(w), wk.figures.steps));
  wk.lumped_owed += extra * (sw.beside_kernel_factor(rng.uniform()) - 1);
  const double pad = std::max(0.0, wk.lumped_owed);
  wk.lumped_owed -= pad;
  return pad;
}

// Hands the push to every shard at once; each shard sees its piece, and then the pull
// riding on it, when its bytes arrive.
void Simulation::push_to_shards(int w, const WorkerPush& push) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  WorkerCore& core = *wk.core;
  const double t1 = now();
  if (messages_->any()) {
    double encode = 0;
    for (const auto& shard : shards_) encode += messages_->worker_push(shard.bytes);
    cpu_->spend(encode);
    if (stopped()) return;
  }
  const double handed = now();
  double received = 0;  // shard 0's receipt of the push, first byte to last
  if (latency_ > 0) {
    sg::this_actor::sleep_for(latency_);
    if (stopped()) return;
  }
  // Kept in the worker, not on this stack: a kill unwinds the stack, and dropping an
  // unfinished transfer there makes SimGrid print a backtrace per transfer.
  std::vector<TransferPtr>& comms = wk.in_flight;
  std::vector<int>& shard_of = wk.push_shards;
  std::vector<KernelPacer::SharePtr>& kernel = wk.push_kernel;
  comms.clear();
  shard_of.clear();
  kernel.clear();
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    comms.push_back(network_->start(wk.host, shards_[s].host, shards_[s].bytes));
    kernel.push_back(kernel_->follow(comms.back(), shards_[s].bytes, kernel_seconds(shards_[s].bytes)));
    shard_of.push_back(static_cast<int>(s));
    bytes_sent_ += shards_[s].bytes;
    wk.figures.bytes_sent += shards_[s].bytes;
    ++transfers_;
  }
  core.pushed();
  ++wk.figures.pushes;
  if (options_.on_push) options_.on_push(now(), w, core.clock());
  const PullInfo pull = core.next_pull();
  while (!comms.empty()) {
    const std::size_t i = network_->wait_any(comms);
    const int s = shard_of[i];
    if (s == 0) received = now() - comms[i]->first_byte_at();
    KernelPacer::SharePtr moved = kernel[i];
    comms.erase(comms.begin() + static_cast<std::ptrdiff_t>(i));
    shard_of.erase(shard_of.begin() + static_cast<std::ptrdiff_t>(i));
    kernel.erase(kernel.begin() + static_cast<std::ptrdiff_t>(i));
    if (stopped()) return;
    const std::size_t woken_on = moved ? moved->core : SIZE_MAX;  // the push's packets wake the shard's thread there
    kernel_->finish(moved);  // the message is in only once the kernel has done its share too
    if (stopped()) return;
    const Shard& shard = shards_[static_cast<std::size_t>(s)];
    const std::span<const float> piece = ranges_->piece(push.payload, s);
    std::vector<float> payload(piece.begin(), piece.end());  // the copy the core would make; it may be served later
    serve(s, messages_->receive(shard.bytes),
          [info = push.info, p = std::move(payload)](ServerCore& c) mutable { c.push(info, std::move(p)); }, woken_on);
    if (stopped()) return;
    serve(s, messages_->receive(0), [pull](ServerCore& c) { c.pull(pull); });
    if (stopped()) return;
  }
  // As the real drivers count (docs/run-directory.md): encoding the push and shard 0's
  // receipt of it are communication; its latency, its queueing before the first byte
  // arrives and the other shards' are already waiting for the reply.
  wk.figures.communicate_s += (handed - t1) + received;
  wk.figures.wait_s += now() - handed - received;
}

// The pull request reaches every shard at once (it rides on the push or, for the first
// pull, costs nothing); each shard replies now or holds it.
void Simulation::issue_pull(int w) {
  const PullInfo pull = workers_[static_cast<std::size_t>(w)].core->next_pull();
  for (std::size_t s = 0; s < shards_.size() && !stopped(); ++s)
    serve(static_cast<int>(s), messages_->receive(0), [pull](ServerCore& c) { c.pull(pull); });
}

// Feeds one event to shard s's core on the shard's thread: after the thread is free and
// has spent `receive` seconds on the message, the core decides; its decisions take effect
// once the thread has spent what they cost (ShardCharges). Free events run at once.
void Simulation::serve(int s, double receive, std::function<void(ServerCore&)> event, std::size_t woken_on) {
  Shard& shard = shards_[static_cast<std::size_t>(s)];
  shard.thread->submit(receive, [this, s, event = std::move(event)]() -> ServerThread::Outcome {
    if (stopped()) return {};
    Shard& sh = shards_[static_cast<std::size_t>(s)];
    const Version before = sh.core->version();
    event(*sh.core);
    auto out = std::make_shared<ServerOutbox>(sh.core->take_outbox());
    const double seconds = sh.charges->outcome(*out, before, sh.core->version());
    const double writes = sh.charges->write() * static_cast<double>(out->replies.size());
    return {seconds, [this, s, out] {
              if (!stopped()) execute(s, std::move(*out));
            }, writes};
  }, woken_on);
}

// Executes what a shard decided: applied and dropped pushes go to the run monitor (shard 0
// speaks for every shard: they decide alike), replies start their transfers now, timers
// become daemon actors, and the model's version (the lowest over the shards) goes to the
// monitor, which says when to evaluate and stop.
void Simulation::execute(int s, ServerOutbox out) {
  Shard& shard = shards_[static_cast<std::size_t>(s)];
  if (out.empty()) return;
  for (const auto& note : out.notes) {
    ++notes_;
    log_ << fmt::format("sim: t={:.6f} shard {}: {}\n", now(), s, note);
  }
  if (s == 0) {
    for (const auto& d : out.dropped) monitor_->dropped(now(), d.worker);
    for (const auto& a : out.applied) {
      const std::uint64_t samples = config_.data.batch * static_cast<std::uint64_t>(std::max(1, a.local_steps));
      act(monitor_->applied(now(), AppliedGradient{a.update, a.worker, a.staleness, a.loss, samples}));
      if (stopped()) return;
    }
  }
  // The thread writes the replies into their sockets one after another (ServerThread's
  // `after`): each one's bytes start to leave as its write begins.
  double start_at = now();
  for (const auto& reply : out.replies) {
    Worker& wk = workers_[static_cast<std::size_t>(reply.worker)];
    const double write_begins = start_at;
    start_at += shard.charges->write();
    if (wk.figures.failed) continue;
    InFlight in;
    in.reply = reply;
    in.start_at = write_begins;
    wk.replies[static_cast<std::size_t>(s)] = std::move(in);
    wk.arrived->release();
  }
  for (WorkerId w : out.cancels) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    if (wk.computing && !wk.figures.failed) {
      wk.computing = false;  // one release per step, even if cancelled twice
      if (wk.step_work)
        wk.step_work->cancel();  // its wait() throws CancelException in the worker's actor
      else
        wk.cancel_sem->release();
    }
  }
  for (const auto& t : out.timers) {
    sg::Actor::create("timer", shard.host, [this, s, id = t.id, seconds = t.seconds] {
      sg::this_actor::sleep_for(seconds);
      if (stopped()) return;
      try {
        serve(s, 0, [id](ServerCore& c) { c.timer(id); });
      } catch (const std::exception& e) {
        fail(fmt::format("shard {} timer at {:.6f} simulated s: {}", s, now(), e.what()));
      }
    })->daemonize();
  }
  if (out.stop) {
    if (!out.stop->is_error) log_ << fmt::format("sim: policy ended the run: {}\n", out.stop->reason);
    act(monitor_->stop(now(), out.stop->is_error ? "error" : "policy", out.stop->reason));
    return;
  }
  const std::uint64_t before = monitor_->updates();
  Version lowest = shard.core->version();
  for (const auto& other : shards_) lowest = std::min(lowest, other.core->version());
  act(monitor_->version(now(), lowest));
  if (monitor_->updates() != before) progress();
}

// Evaluate first, then stop: an evaluation due at the last update is still written.
void Simulation::act(const MonitorActions& actions) {
  if (actions.evaluate) evaluate(*actions.evaluate);
  // Ends every other actor (workers blocked on replies, timers, failure schedules) at once.
  if (actions.stop && running_) sg::Actor::kill_all();
}

// Evaluations are free in simulated time: the PS model is scored as of this instant.
void Simulation::evaluate(const EvalPoint& at) {
  const auto t0 = std::chrono::steady_clock::now();
  const TestResult r = evaluate_dataset(*setup_.network, joined_params(), setup_.data->test, at.test_samples, kEvalBatch);
  if (cpu_->shared() && sg::Actor::self() != nullptr) {
    // The real PS scores on a helper thread: nothing waits for it, but it takes a core.
    const double work = config_.cluster.software.evaluate_sample * static_cast<double>(r.samples);
    if (auto e = cpu_->start(work)) eval_work_.push_back(std::move(e));
  }
  eval_wall_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  act(monitor_->evaluated(at, r));
}

void Simulation::fail(const std::string& what) { act(monitor_->stop(now(), "error", what)); }

std::vector<float> Simulation::joined_params() const {
  if (!setup_.full) return {};
  std::vector<float> all(setup_.num_params());
  for (std::size_t s = 0; s < shards_.size(); ++s) ranges_->place(all, static_cast<int>(s), shards_[s].core->params());
  return all;
}

void Simulation::fail_worker(int w) {
  Worker& wk = workers_[static_cast<std::size_t>(w)];
  if (wk.figures.failed || stopped()) return;
  wk.figures.failed = true;
  monitor_->worker_lost(now(), w);
  log_ << fmt::format("sim: t={:.6f} worker {} fails\n", now(), w);
  // A crashed process stops sending and receiving: its transfers leave the links now.
  // Killed first, so that no one waits on the transfers when they are cancelled.
  auto drop = [](const TransferPtr& c) {
    if (c) c->cancel();
  };
  auto idle = [](const sg::ExecPtr& e) {
    if (e) e->cancel();  // a crashed process's work leaves the shared machine's cores
  };
  if (wk.actor) wk.actor->kill();
  for (const auto& c : wk.in_flight) drop(c);
  for (const auto& r : wk.replies)
    if (r) {
      drop(r->comm);
      kernel_->cancel(r->kernel);
    }
  for (const auto& k : wk.push_kernel) kernel_->cancel(k);
  idle(wk.step_work);
  // The crashed process's connections close: every shard learns of it at once.
  for (std::size_t s = 0; s < shards_.size() && !stopped(); ++s)
    serve(static_cast<int>(s), 0, [w](ServerCore& c) { c.worker_lost(w); });
}

std::string Simulation::blocked_workers() const {
  std::string list;
  int n = 0;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (!workers_[w].waiting || workers_[w].figures.failed) continue;
    if (n < 8) list += fmt::format("{}{}", n ? "," : "", w);
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
  monitor_ = std::make_unique<RunMonitor>(MonitorLimits::from(config_, setup_.full), writer_.get());
  if (const std::string notice = unbounded_run_notice(config_); !notice.empty()) log_ << "sim: " << notice << "\n";
  act(monitor_->started());
  if (stopped()) throw Error(monitor_->stop_state()->error);

  for (int w = 0; w < config_.cluster.workers; ++w) {
    Worker& wk = workers_[static_cast<std::size_t>(w)];
    // An exception escaping an actor would abort the process: end the run with its
    // reason instead. (SimGrid's kill exception is no std::exception and passes through.)
    wk.actor = sg::Actor::create(worker_host_name(w), wk.host, [this, w] {
      try {
        worker_main(w);
      } catch (const std::exception& e) {
        fail(fmt::format("worker {} at {:.6f} simulated s: {}", w, now(), e.what()));
      }
    });
  }
  for (const auto& f : config_.cluster.failures) {
    sg::Actor::create("failure", platform_.servers[0], [this, w = f.worker, at = f.at] {
      sg::this_actor::sleep_for(at);
      try {
        fail_worker(w);
      } catch (const std::exception& e) {
        fail(fmt::format("failure of worker {}: {}", w, e.what()));
      }
    })->daemonize();
  }
  // The time limit is the monitor's: it hears the clock reach it (docs/run-directory.md).
  if (const std::optional<double> deadline = monitor_->deadline()) {
    sg::Actor::create("clock", platform_.servers[0], [this, at = *deadline] {
      sg::this_actor::sleep_until(at);
      act(monitor_->clock(now()));
    })->daemonize();
  }
  eval_wall_ = 0;  // count only the evaluations made during the run
  const auto run_start = std::chrono::steady_clock::now();
  running_ = true;
  engine.run();
  running_ = false;
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
  monitor_->ran_dry(now(), config_.cluster.workers,
                    fmt::format("deadlock at {:.6f} simulated s after {} updates: worker(s) {} wait for replies that policy {} "
                                "never sends",
                                now(), monitor_->updates(), blocked_workers(), policy_description_));
  if (const std::optional<EvalPoint> at = monitor_->final_evaluation())
    monitor_->final_evaluated(*at, evaluate_dataset(*setup_.network, joined_params(), setup_.data->test, 0, kEvalBatch));

  if (trace_) trace_->finish();
  const RunSummary s = summary(wall, run_wall);
  try {
    writer_->finish(s);
  } catch (const Error& e) {
    // Say both when the run had failed already and its directory cannot be completed.
    if (s.error.empty() || s.error == e.what()) throw;
    throw Error(s.error + "; and the run directory is incomplete: " + e.what());
  }
  if (monitor_->stop_state()->failed()) throw Error(s.error);
  return s;
}

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
