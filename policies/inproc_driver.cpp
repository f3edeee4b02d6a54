#include "policies/inproc_driver.hpp"

#include <algorithm>
#include <memory>
#include <queue>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/run/run_monitor.hpp"
#include "policies/registry.hpp"
#include "policies/shard_set.hpp"

namespace synclab {

std::vector<std::unique_ptr<ServerCore>> make_shard_cores(const InprocOptions& o, const std::vector<float>& initial,
                                                          const std::vector<Range>& ranges, bool timing, int workers) {
  std::vector<std::unique_ptr<ServerCore>> cores;
  for (const Range& range : ranges) {
    ServerCoreOptions so;
    so.range = range;
    so.optimizer = o.optimizer;
    so.timing_only = timing;
    std::span<const float> init;
    if (!timing) init = std::span<const float>(initial).subspan(range.begin, range.size());
    cores.push_back(std::make_unique<ServerCore>(make_policy(o.policy, workers).server, init, so));
  }
  return cores;
}

std::vector<float> join_shard_params(const std::vector<std::unique_ptr<ServerCore>>& cores, const std::vector<Range>& ranges,
                                     std::size_t num_params) {
  std::vector<float> all(num_params);
  for (std::size_t s = 0; s < cores.size(); ++s) {
    auto p = cores[s]->params();
    std::copy(p.begin(), p.end(), all.begin() + static_cast<std::ptrdiff_t>(ranges[s].begin));
  }
  return all;
}

namespace {

enum class Ev { PullArrive, ReplyArrive, ComputeDone, PushArrive, CancelArrive, Timer, Fail, Rejoin };

struct Event {
  double time = 0;
  std::uint64_t seq = 0;  // ties break in scheduling order: deterministic
  Ev kind = Ev::PullArrive;
  WorkerId worker = -1;
  std::uint64_t gen = 0;  // worker incarnation the message belongs to
  int shard = 0;
  PullInfo pull;
  PushInfo push;
  std::shared_ptr<std::vector<float>> payload;
  PullReply reply;
  TimerId timer = 0;
  std::uint64_t step = 0;  // ComputeDone / CancelArrive: which step of the worker
};

struct Later {
  bool operator()(const Event& a, const Event& b) const { return a.time != b.time ? a.time > b.time : a.seq > b.seq; }
};

struct WorkerSlot {
  std::unique_ptr<WorkerCore> core;
  bool alive = true;
  std::uint64_t gen = 0;
  std::uint64_t messages = 0;             // messages sent or received, for the latency script
  double last_to_server = 0, last_to_worker = 0;  // FIFO channels
  std::vector<std::optional<PullReply>> replies;  // by shard, for the pull in flight
  int got = 0;                                    // replies received
  std::size_t batch = 0;                          // samples per local step
  WorkerPush pending;                     // computed, waiting for ComputeDone
  bool computing = false;                 // a ComputeDone for `step` is scheduled
  std::uint64_t step = 0;                 // steps started, to recognise a cancelled one
};

// The monitor's limits for a run without evaluations: the options' update and time limits.
MonitorLimits limits_of(const InprocOptions& o) {
  MonitorLimits l;
  l.stop_updates = o.max_updates;
  l.stop_time = o.max_time;
  l.evaluate = false;
  return l;
}

class Run {
 public:
  Run(const InprocOptions& o, const std::vector<float>& initial, const std::vector<WorkerSetup>& setups)
      : o_(o), shards_(checked_params(o, initial, setups), o.shards), monitor_(limits_of(o), nullptr) {
    const int workers = static_cast<int>(setups.size());
    cores_ = make_shard_cores(o_, initial, shards_.ranges(), timing_, workers);
    for (const auto& setup : setups) {
      WorkerSlot slot;
      slot.core = std::make_unique<WorkerCore>(setup);
      slot.batch = setup.batch;
      slots_.push_back(std::move(slot));
    }
    cancel_sent_.assign(slots_.size(), ~0ULL);
  }

  InprocResult go() {
    for (WorkerId w = 0; w < static_cast<WorkerId>(slots_.size()); ++w) send_pull(w, 0);
    for (const auto& f : o_.failures) {
      Event e;
      e.kind = Ev::Fail;
      e.worker = f.worker;
      schedule(f.at, e);
      if (f.rejoin_at >= 0) {
        e.kind = Ev::Rejoin;
        schedule(f.rejoin_at, e);
      }
    }
    // The monitor decides every stop; the loop only says when nothing is left to happen.
    std::uint64_t processed = 0;
    const std::optional<double> deadline = monitor_.deadline();
    while (!monitor_.stopped()) {
      if (queue_.empty()) {
        monitor_.ran_dry(now_, static_cast<int>(slots_.size()),
                         fmt::format("nothing left to happen at {} after {} updates", now_, monitor_.updates()));
        break;
      }
      // The clock reaches the limit once every event up to it has been processed.
      if (deadline && queue_.top().time > *deadline && !monitor_.clock(*deadline).empty()) break;
      if (++processed > o_.max_events) {
        monitor_.stop(now_, "events", fmt::format("more than {} events (max_events)", o_.max_events));
        break;
      }
      Event e = queue_.top();
      queue_.pop();
      now_ = e.time;
      handle(e);
    }
    res_.stop_reason = monitor_.stop_state()->reason;
    res_.time = now_;
    res_.updates = cores_[0]->version();
    monitor_.fill(res_.summary);
    res_.summary.backend = "inproc";
    res_.summary.policy = o_.policy.name;
    res_.summary.workers = static_cast<int>(slots_.size());
    res_.summary.shards = o_.shards;
    for (const auto& s : slots_) res_.clocks.push_back(s.core->clock());
    if (!timing_) res_.params = join_shard_params(cores_, shards_.ranges(), num_params_);
    return std::move(res_);
  }

 private:
  // Validates the options against the workers; returns the model's size for the shard set.
  std::size_t checked_params(const InprocOptions& o, const std::vector<float>& initial, const std::vector<WorkerSetup>& setups) {
    if (setups.empty()) throw Error("inproc driver: no workers");
    if (o.shards < 1) throw Error("inproc driver: shards must be >= 1");
    timing_ = setups.front().network == nullptr;
    num_params_ = setups.front().num_params;
    if (!timing_ && initial.size() != num_params_)
      throw Error(fmt::format("inproc driver: initial params have {} floats, model has {}", initial.size(), num_params_));
    return num_params_;
  }

  // The model has version v once every shard has applied v updates (shards see the same
  // event a moment apart).
  Version min_version() const {
    Version v = cores_[0]->version();
    for (const auto& c : cores_) v = std::min(v, c->version());
    return v;
  }

  void schedule(double t, Event e) {
    e.time = t;
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  double latency(WorkerId w) {
    auto& slot = slots_[static_cast<std::size_t>(w)];
    const std::uint64_t n = slot.messages++;
    return o_.latency ? o_.latency(w, n) : 0.0;
  }

  void log(InprocEvent::Kind kind, WorkerId w, std::uint64_t clock, Version v, PushId push = 0, std::int64_t st = 0,
           std::string text = {}) {
    res_.events.push_back(InprocEvent{now_, kind, w, clock, v, push, st, std::move(text)});
  }

  void send_pull(WorkerId w, double at) {
    auto& slot = slots_[static_cast<std::size_t>(w)];
    slot.replies.assign(static_cast<std::size_t>(o_.shards), std::nullopt);
    slot.got = 0;
    Event e;
    e.kind = Ev::PullArrive;
    e.worker = w;
    e.gen = slot.gen;
    e.pull = slot.core->next_pull();
    const double t = std::max(at + latency(w), slot.last_to_server);
    slot.last_to_server = t;
    for (int s = 0; s < o_.shards; ++s) {
      e.shard = s;
      schedule(t, e);
    }
  }

  void send_push(WorkerId w) {
    auto& slot = slots_[static_cast<std::size_t>(w)];
    const double t = std::max(now_ + latency(w), slot.last_to_server);
    slot.last_to_server = t;
    for (int s = 0; s < o_.shards; ++s) {
      Event e;
      e.kind = Ev::PushArrive;
      e.worker = w;
      e.gen = slot.gen;
      e.shard = s;
      e.push = slot.pending.info;
      if (!timing_) {
        const std::span<const float> piece = shards_.piece(slot.pending.payload, s);
        e.payload = std::make_shared<std::vector<float>>(piece.begin(), piece.end());
      }
      schedule(t, e);
    }
    slot.core->pushed();
  }

  bool current(const Event& e) const {
    const auto& slot = slots_[static_cast<std::size_t>(e.worker)];
    return slot.alive && slot.gen == e.gen;
  }

  void drain(int shard) {
    ServerOutbox out = cores_[static_cast<std::size_t>(shard)]->take_outbox();
    if (shard == 0) {  // every shard decides alike; shard 0 keeps the records
      for (const auto& a : out.applied) {
        res_.applied.push_back(a);
        res_.applied_time.push_back(now_);
        log(InprocEvent::Kind::Applied, a.worker, 0, a.update, a.push, a.staleness);
        const std::size_t batch = slots_[static_cast<std::size_t>(a.worker)].batch;
        monitor_.applied(now_, AppliedGradient{a.update, a.worker, a.staleness, a.loss,
                                               batch * static_cast<std::uint64_t>(a.local_steps)});
      }
      for (const auto& d : out.dropped) {
        res_.dropped.push_back(d);
        log(InprocEvent::Kind::Dropped, d.worker, 0, 0, d.push, 0, d.reason);
        monitor_.dropped(now_, d.worker);
      }
      for (auto& n : out.notes) log(InprocEvent::Kind::Note, -1, 0, 0, 0, 0, n);
      if (out.stop) {
        res_.stop = out.stop;
        monitor_.stop(now_, out.stop->is_error ? "error" : "policy", out.stop->reason);
      }
    }
    monitor_.version(now_, min_version());
    for (auto& r : out.replies) {
      auto& slot = slots_[static_cast<std::size_t>(r.worker)];
      if (shard == 0) log(InprocEvent::Kind::Replied, r.worker, slot.core->clock(), r.version);
      if (!slot.alive) continue;
      Event e;
      e.kind = Ev::ReplyArrive;
      e.worker = r.worker;
      e.gen = slot.gen;
      e.shard = shard;
      e.reply = std::move(r);
      const double t = std::max(now_ + latency(e.worker), slot.last_to_worker);
      slot.last_to_worker = t;
      schedule(t, std::move(e));
    }
    for (WorkerId w : out.cancels) {
      auto& slot = slots_[static_cast<std::size_t>(w)];
      if (!o_.honor_cancel || !slot.alive || !slot.computing || cancel_sent_[static_cast<std::size_t>(w)] == slot.step) continue;
      cancel_sent_[static_cast<std::size_t>(w)] = slot.step;  // every shard advises; one message suffices
      Event e;
      e.kind = Ev::CancelArrive;
      e.worker = w;
      e.gen = slot.gen;
      e.step = slot.step;
      const double t = std::max(now_ + latency(w), slot.last_to_worker);
      slot.last_to_worker = t;
      schedule(t, e);
    }
    for (const auto& t : out.timers) {
      Event e;
      e.kind = Ev::Timer;
      e.shard = shard;
      e.timer = t.id;
      schedule(now_ + t.seconds, e);
    }
  }

  void handle(Event& e) {
    switch (e.kind) {
      case Ev::PullArrive:
        if (!current(e)) return;
        if (e.shard == 0) log(InprocEvent::Kind::PullArrived, e.worker, e.pull.worker_clock, cores_[0]->version());
        cores_[static_cast<std::size_t>(e.shard)]->pull(e.pull);
        drain(e.shard);
        return;
      case Ev::PushArrive:
        if (!current(e)) return;
        if (e.shard == 0) log(InprocEvent::Kind::PushArrived, e.worker, e.push.worker_clock, e.push.base_version, e.push.id);
        if (e.payload)
          cores_[static_cast<std::size_t>(e.shard)]->push(e.push, std::move(*e.payload));
        else
          cores_[static_cast<std::size_t>(e.shard)]->push(e.push, std::span<const float>());
        drain(e.shard);
        return;
      case Ev::ReplyArrive: {
        if (!current(e)) return;
        auto& slot = slots_[static_cast<std::size_t>(e.worker)];
        auto& got = slot.replies[static_cast<std::size_t>(e.shard)];
        if (!got) ++slot.got;
        got = std::move(e.reply);
        if (slot.got < o_.shards) return;
        PullJoin join;
        auto params = slot.core->params();
        for (int s = 0; s < shards_.size(); ++s) {
          const PullReply& r = *slot.replies[static_cast<std::size_t>(s)];
          join.add(r.version, r.local_steps);
          if (!timing_) shards_.place(params, s, *r.params);
        }
        res_.mixed_versions = res_.mixed_versions || join.mixed_versions();
        slot.replies.assign(slot.replies.size(), std::nullopt);
        slot.got = 0;
        slot.core->on_params(join.result());
        slot.pending = slot.core->compute();
        const double d = o_.compute_time ? o_.compute_time(e.worker, slot.core->clock()) : 1.0;
        Event c;
        c.kind = Ev::ComputeDone;
        c.worker = e.worker;
        c.gen = slot.gen;
        c.step = ++slot.step;
        slot.computing = true;
        schedule(now_ + d, c);
        return;
      }
      case Ev::ComputeDone: {
        if (!current(e)) return;
        auto& slot = slots_[static_cast<std::size_t>(e.worker)];
        if (e.step != slot.step || !slot.computing) return;  // this step was cancelled
        slot.computing = false;
        send_push(e.worker);
        send_pull(e.worker, now_);
        return;
      }
      case Ev::CancelArrive: {
        if (!current(e)) return;
        auto& slot = slots_[static_cast<std::size_t>(e.worker)];
        if (!slot.computing || e.step != slot.step) return;  // finished before the advice came
        slot.computing = false;
        slot.core->cancelled();
        log(InprocEvent::Kind::Cancelled, e.worker, slot.core->clock(), cores_[0]->version());
        send_pull(e.worker, now_);
        return;
      }
      case Ev::Timer:
        if (e.shard == 0) {
          log(InprocEvent::Kind::Timer, -1, 0, cores_[0]->version());
          res_.events.back().timer = e.timer;
        }
        cores_[static_cast<std::size_t>(e.shard)]->timer(e.timer);
        drain(e.shard);
        return;
      case Ev::Fail: {
        auto& slot = slots_[static_cast<std::size_t>(e.worker)];
        if (!slot.alive) return;
        slot.alive = false;
        slot.computing = false;
        ++slot.gen;
        log(InprocEvent::Kind::Lost, e.worker, slot.core->clock(), cores_[0]->version());
        monitor_.worker_lost(now_, e.worker);
        for (int s = 0; s < o_.shards; ++s) {
          cores_[static_cast<std::size_t>(s)]->worker_lost(e.worker);
          drain(s);
        }
        return;
      }
      case Ev::Rejoin: {
        auto& slot = slots_[static_cast<std::size_t>(e.worker)];
        if (slot.alive) return;
        slot.alive = true;
        ++slot.gen;
        slot.last_to_server = slot.last_to_worker = now_;
        log(InprocEvent::Kind::Joined, e.worker, slot.core->clock(), cores_[0]->version());
        monitor_.worker_joined(e.worker);
        for (int s = 0; s < o_.shards; ++s) {
          cores_[static_cast<std::size_t>(s)]->worker_joined(e.worker);
          drain(s);
        }
        send_pull(e.worker, now_);
        return;
      }
    }
  }

  const InprocOptions& o_;
  bool timing_ = false;
  std::size_t num_params_ = 0;
  ShardSet shards_;
  RunMonitor monitor_;
  std::vector<std::unique_ptr<ServerCore>> cores_;
  std::vector<WorkerSlot> slots_;
  std::vector<std::uint64_t> cancel_sent_;  // step each worker was last advised to cancel
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t seq_ = 0;
  double now_ = 0;
  InprocResult res_;
};

}  // namespace

InprocDriver::InprocDriver(InprocOptions options, std::vector<float> initial, std::vector<WorkerSetup> workers)
    : options_(std::move(options)), initial_(std::move(initial)), setups_(std::move(workers)) {}

InprocResult InprocDriver::run() {
  Run r(options_, initial_, setups_);
  return r.go();
}

}  // namespace synclab
