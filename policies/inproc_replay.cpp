// InprocDriver::replay: the in-process driver fed a recorded event order instead of scripted
// times. Each shard's ServerCore gets exactly the events its trace lists, in that order;
// workers compute on the replies they receive, so the payloads are recomputed, not read.
// A real run and its replay agree bit for bit when the policy is a pure function of the
// event order, which is the claim the drivers rest on.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/inproc_driver.hpp"
#include "policies/registry.hpp"
#include "policies/shard_set.hpp"

namespace synclab {

namespace {

struct SentPush {
  PushInfo info;
  std::vector<float> payload;    // full flat buffer; empty in timing mode
  std::vector<bool> delivered;   // per shard
};

struct ReplayWorker {
  std::unique_ptr<WorkerCore> core;
  std::vector<bool> lost;                         // per shard: that shard recorded the worker lost
  std::uint64_t pulls_sent = 0;
  std::vector<std::uint64_t> pulls_delivered;     // per shard
  std::vector<std::optional<PullReply>> replies;  // per shard, for the pull in flight
  int got = 0;
  std::map<std::uint64_t, SentPush> pushes;       // by worker clock, until every shard has it
};

std::string describe(int shard, std::size_t index, const TraceEvent& e) {
  return fmt::format("shard {} event {} ({})", shard, index + 1, format_trace_event(e));
}

class Replay {
 public:
  Replay(const InprocOptions& o, const std::vector<float>& initial, const std::vector<WorkerSetup>& setups,
         const std::vector<std::vector<TraceEvent>>& trace)
      : o_(o), trace_(trace) {
    if (setups.empty()) throw Error("replay: no workers");
    if (o_.shards < 1 || trace_.size() != static_cast<std::size_t>(o_.shards))
      throw Error(fmt::format("replay: {} shard trace(s) for {} shard(s)", trace_.size(), o_.shards));
    timing_ = setups.front().network == nullptr;
    num_params_ = setups.front().num_params;
    if (!timing_ && initial.size() != num_params_)
      throw Error(fmt::format("replay: initial params have {} floats, model has {}", initial.size(), num_params_));
    const int workers = static_cast<int>(setups.size());
    ranges_ = shard_ranges(num_params_, o_.shards);
    cores_ = make_shard_cores(o_, initial, ranges_, timing_, workers);
    for (const auto& setup : setups) {
      ReplayWorker w;
      w.core = std::make_unique<WorkerCore>(setup);
      w.pulls_delivered.assign(static_cast<std::size_t>(o_.shards), 0);
      w.lost.assign(static_cast<std::size_t>(o_.shards), false);
      workers_.push_back(std::move(w));
    }
    // A worker's messages reach every shard in the order sent. After the k-th pull comes
    // its push of that step, or, when the step was abandoned (cancelled, or cut short by the
    // end of the run), the next pull at the same clock or nothing. Shards stop recording at
    // slightly different moments at the end of a run (a push can reach shard 1 after shard
    // 0 stopped), so a push any shard recorded counts.
    pushed_after_pull_.resize(workers_.size());
    for (std::size_t s = 0; s < trace_.size(); ++s) {
      std::vector<std::vector<bool>> shard_view(workers_.size());
      for (std::size_t i = 0; i < trace_[s].size(); ++i) {
        const TraceEvent& e = trace_[s][i];
        if (e.kind != TraceEvent::Kind::Push && e.kind != TraceEvent::Kind::Pull) continue;
        auto& after = shard_view[static_cast<std::size_t>(worker(static_cast<int>(s), i).core->id())];
        if (e.kind == TraceEvent::Kind::Pull) {
          after.push_back(false);
        } else {
          if (after.empty() || after.back())
            throw Error(fmt::format("replay: {}: a push without a pull before it", describe(static_cast<int>(s), i, e)));
          after.back() = true;
        }
      }
      for (std::size_t w = 0; w < workers_.size(); ++w) {
        auto& merged = pushed_after_pull_[w];
        if (merged.size() < shard_view[w].size()) merged.resize(shard_view[w].size(), false);
        for (std::size_t k = 0; k < shard_view[w].size(); ++k)
          if (shard_view[w][k]) merged[k] = true;
      }
    }
  }

  InprocResult go() {
    for (WorkerId w = 0; w < static_cast<WorkerId>(workers_.size()); ++w) send_pull(w);
    std::vector<std::size_t> next(trace_.size(), 0);
    for (;;) {
      bool progressed = false, done = true;
      for (std::size_t s = 0; s < trace_.size(); ++s) {
        const auto& events = trace_[s];
        while (next[s] < events.size() && ready(static_cast<int>(s), next[s])) {
          process(static_cast<int>(s), next[s]);
          ++next[s];
          progressed = true;
        }
        if (next[s] < events.size()) done = false;
      }
      if (done) break;
      if (!progressed) {
        for (std::size_t s = 0; s < trace_.size(); ++s)
          if (next[s] < trace_[s].size())
            throw Error(fmt::format("replay: {} cannot happen: worker {} has not sent that message in the replay",
                                    describe(static_cast<int>(s), next[s], trace_[s][next[s]]), trace_[s][next[s]].worker));
      }
    }
    res_.updates = cores_[0]->version();
    res_.stop_reason = "replay";
    for (const auto& w : workers_) res_.clocks.push_back(w.core->clock());
    if (!timing_) res_.params = join_shard_params(cores_, ranges_, num_params_);
    return std::move(res_);
  }

 private:
  ReplayWorker& worker(int shard, std::size_t index) {
    const TraceEvent& e = trace_[static_cast<std::size_t>(shard)][index];
    if (e.worker < 0 || e.worker >= static_cast<WorkerId>(workers_.size()))
      throw Error(fmt::format("replay: {} names worker {}, the run has {}", describe(shard, index, e), e.worker, workers_.size()));
    return workers_[static_cast<std::size_t>(e.worker)];
  }

  bool ready(int shard, std::size_t index) {
    const TraceEvent& e = trace_[static_cast<std::size_t>(shard)][index];
    const auto s = static_cast<std::size_t>(shard);
    switch (e.kind) {
      case TraceEvent::Kind::Push: {
        auto& w = worker(shard, index);
        auto it = w.pushes.find(e.clock);
        return it != w.pushes.end() && !it->second.delivered[s];
      }
      case TraceEvent::Kind::Pull: {
        auto& w = worker(shard, index);
        if (w.lost[s] || w.pulls_delivered[s] + 1 != w.pulls_sent) return false;
        // A worker has one pull in flight; the shard's next pull of it must be that one.
        if (w.core->clock() != e.clock)
          throw Error(fmt::format("replay: {}: worker {} pulled at clock {} in the replay", describe(shard, index, e), e.worker,
                                  w.core->clock()));
        return true;
      }
      case TraceEvent::Kind::Resumed:
        throw Error(fmt::format("replay: {}: the shard resumed from a checkpoint at version {}; only a run from version 0 can be replayed",
                                describe(shard, index, e), e.version));
      case TraceEvent::Kind::Lost:
      case TraceEvent::Kind::Joined:
      case TraceEvent::Kind::Timer:
        return true;
    }
    return false;
  }

  void process(int shard, std::size_t index) {
    const TraceEvent& e = trace_[static_cast<std::size_t>(shard)][index];
    const auto s = static_cast<std::size_t>(shard);
    ServerCore& core = *cores_[s];
    switch (e.kind) {
      case TraceEvent::Kind::Push: {
        auto& w = worker(shard, index);
        auto it = w.pushes.find(e.clock);
        SentPush& p = it->second;
        if (p.info.base_version != e.base_version)
          throw Error(fmt::format("replay: {}: the worker computed this push on version {} in the replay", describe(shard, index, e),
                                  p.info.base_version));
        const Range r = ranges_[s];
        try {
          if (timing_)
            core.push(p.info, std::span<const float>());
          else
            core.push(p.info, std::span<const float>(p.payload).subspan(r.begin, r.size()));
        } catch (const Error& err) {  // the real server logs a rejected push and goes on
          if (shard == 0) res_.events.push_back(InprocEvent{0, InprocEvent::Kind::Note, e.worker, e.clock, 0, p.info.id, 0, err.what()});
        }
        p.delivered[s] = true;
        if (std::all_of(p.delivered.begin(), p.delivered.end(), [](bool d) { return d; })) w.pushes.erase(it);
        break;
      }
      case TraceEvent::Kind::Pull:
        ++worker(shard, index).pulls_delivered[s];
        core.pull(PullInfo{e.worker, e.clock});
        break;
      case TraceEvent::Kind::Lost:
        // Lost for this shard only: a worker that leaves because another shard stopped the
        // job is recorded lost by a shard still short of its stop, while the other shards'
        // traces still list its messages from before it left.
        worker(shard, index).lost[s] = true;
        core.worker_lost(e.worker);
        break;
      case TraceEvent::Kind::Joined:
        if (worker(shard, index).lost[s])
          throw Error(fmt::format("replay: {}: worker {} rejoined; a restarted worker's state is not in the trace", describe(shard, index, e),
                                  e.worker));
        core.worker_joined(e.worker);
        break;
      case TraceEvent::Kind::Timer:
        core.timer(e.timer);
        break;
      case TraceEvent::Kind::Resumed:
        break;  // refused in ready()
    }
    drain(shard);
    if (core.version() != e.version)
      throw Error(fmt::format("replay: {}: the policy reached version {}, the recorded run {}", describe(shard, index, e), core.version(),
                              e.version));
  }

  void drain(int shard) {
    ServerOutbox out = cores_[static_cast<std::size_t>(shard)]->take_outbox();
    if (shard == 0) {  // every shard decides alike; shard 0 keeps the records
      for (const auto& a : out.applied) {
        res_.applied.push_back(a);
        res_.applied_time.push_back(0);
        res_.events.push_back(InprocEvent{0, InprocEvent::Kind::Applied, a.worker, 0, a.update, a.push, a.staleness, {}});
      }
      for (const auto& d : out.dropped) {
        res_.dropped.push_back(d);
        res_.events.push_back(InprocEvent{0, InprocEvent::Kind::Dropped, d.worker, 0, 0, d.push, 0, d.reason});
      }
      for (auto& n : out.notes) res_.events.push_back(InprocEvent{0, InprocEvent::Kind::Note, -1, 0, 0, 0, 0, std::move(n)});
      if (out.stop) res_.stop = out.stop;
    }
    // Cancels and timers need no action: the trace says whether the worker pushed and when
    // a timer fired.
    for (auto& r : out.replies) reply(shard, std::move(r));
  }

  void send_pull(WorkerId id) {
    auto& w = workers_[static_cast<std::size_t>(id)];
    ++w.pulls_sent;
    w.replies.assign(static_cast<std::size_t>(o_.shards), std::nullopt);
    w.got = 0;
  }

  // A reply reaches its worker; once every shard has answered, the worker runs its step
  // and sends the push (if the run recorded it) and its next pull, as the real worker does.
  void reply(int shard, PullReply&& r) {
    auto& w = workers_[static_cast<std::size_t>(r.worker)];
    if (w.lost[static_cast<std::size_t>(shard)]) return;
    auto& slot = w.replies[static_cast<std::size_t>(shard)];
    if (slot) throw Error(fmt::format("replay: shard {} answered worker {} twice for one pull", shard, r.worker));
    slot = std::move(r);
    if (++w.got < o_.shards) return;
    PullJoin join;
    auto params = w.core->params();
    for (std::size_t s = 0; s < w.replies.size(); ++s) {
      const PullReply& part = *w.replies[s];
      join.add(part.version, part.local_steps);
      if (!timing_) std::copy(part.params->begin(), part.params->end(), params.begin() + static_cast<std::ptrdiff_t>(ranges_[s].begin));
    }
    res_.mixed_versions = res_.mixed_versions || join.mixed_versions();
    w.core->on_params(join.result());
    const WorkerPush p = w.core->compute();
    const auto& after = pushed_after_pull_[static_cast<std::size_t>(w.core->id())];
    if (w.pulls_sent <= after.size() && after[w.pulls_sent - 1]) {
      SentPush sp;
      sp.info = p.info;
      sp.info.loss = static_cast<float>(p.info.loss);  // the wire carries the loss as fp32
      sp.payload.assign(p.payload.begin(), p.payload.end());
      sp.delivered.assign(static_cast<std::size_t>(o_.shards), false);
      w.pushes.emplace(w.core->clock(), std::move(sp));
      w.core->pushed();
    } else {
      w.core->cancelled();
    }
    send_pull(w.core->id());
  }

  const InprocOptions& o_;
  const std::vector<std::vector<TraceEvent>>& trace_;
  bool timing_ = false;
  std::size_t num_params_ = 0;
  std::vector<Range> ranges_;
  std::vector<std::unique_ptr<ServerCore>> cores_;
  std::vector<ReplayWorker> workers_;
  std::vector<std::vector<bool>> pushed_after_pull_;  // per worker, per pull: did a push follow it

  InprocResult res_;
};

}  // namespace

InprocResult InprocDriver::replay(const std::vector<std::vector<TraceEvent>>& shards) {
  Replay r(options_, initial_, setups_, shards);
  return r.go();
}

}  // namespace synclab
