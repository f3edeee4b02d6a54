#include "real/ps/server_logic.hpp"

#include <fstream>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/common/error.hpp"
#include "policies/registry.hpp"
#include "policies/server_core.hpp"
#include "policies/server_trace.hpp"

namespace synclab::real {
namespace {

// The policies' ServerCore behind the driver's event interface: the real driver adds the
// wall clock (timers become absolute run times) and turns the outbox into ShardDecisions.
class CoreLogic final : public ServerLogic {
 public:
  CoreLogic(const RunConfig& config, const ModelSpec& spec, Range range) {
    PolicyInstance policy = make_policy(config.policy, config.cluster.workers);
    // Every shard initialises the whole model from the seed and keeps its range, so the
    // start point is the same as in the in-process and simulated drivers.
    std::vector<float> all(spec.num_params());
    init_params(spec, all.data(), config.train.seed);
    ServerCoreOptions options;
    options.range = range;
    options.optimizer = config.train.optimizer;
    core_ = std::make_unique<ServerCore>(std::move(policy.server), std::span<const float>(all).subspan(range.begin, range.size()), options);
  }

  ShardDecisions on_push(Push&& p, double now) override {
    PushInfo info;
    info.id = make_push_id(p.worker, p.clock);
    info.worker = p.worker;
    info.base_version = p.base_version;
    info.worker_clock = p.clock;
    info.loss = p.loss;
    info.kind = p.kind == PayloadKind::Gradient ? synclab::PayloadKind::Gradient : synclab::PayloadKind::ModelDelta;
    info.local_steps = static_cast<int>(p.steps);
    std::vector<float> values = std::move(p.values);
    // Samples count when the gradient is applied, never for a dropped or rejected push.
    samples_by_push_[info.id] = p.samples;
    try {
      core_->push(info, std::move(values));
    } catch (const Error& e) {
      samples_by_push_.erase(info.id);
      ShardDecisions d;
      d.log.push_back(fmt::format("push from worker {} rejected: {}", p.worker, e.what()));
      return d;
    }
    return drain(now);
  }
  ShardDecisions on_pull(const PullRequest& p, double now) override {
    core_->pull(PullInfo{p.worker, p.clock});
    return drain(now);
  }
  ShardDecisions on_worker_lost(int worker, double now) override {
    core_->worker_lost(worker);
    return drain(now);
  }
  ShardDecisions on_worker_joined(int worker, double now) override {
    core_->worker_joined(worker);
    return drain(now);
  }
  ShardDecisions on_timer(std::uint64_t id, double now) override {
    core_->timer(id);
    return drain(now);
  }
  std::span<const float> params() const override { return core_->params(); }
  std::uint64_t version() const override { return core_->version(); }
  std::string policy_name() const override { return core_->policy().name(); }
  void save(std::ostream& out) const override { core_->save(out); }
  void load(std::istream& in) override {
    core_->load(in);
    last_version_ = core_->version();
  }

 private:
  ShardDecisions drain(double now) {
    const auto before = last_version_;
    ServerOutbox box = core_->take_outbox();
    ShardDecisions d;
    for (const auto& a : box.applied) {
      std::uint64_t samples = 0;
      if (const auto it = samples_by_push_.find(a.push); it != samples_by_push_.end()) {
        samples = it->second;
        samples_by_push_.erase(it);
      }
      d.applied.push_back(AppliedGradient{a.worker, a.staleness, a.loss, a.update, samples});
    }
    for (const auto& x : box.dropped) samples_by_push_.erase(x.push);
    last_version_ = core_->version();
    d.new_updates = last_version_ - before;
    for (auto& r : box.replies) d.replies.push_back(ParamsToSend{r.worker, r.version, std::move(r.params), r.local_steps ? *r.local_steps : -1});
    d.cancels = box.cancels;
    for (const auto& t : box.timers) d.timers.push_back(TimerRequest{t.id, now + t.seconds});
    for (const auto& x : box.dropped) d.log.push_back(fmt::format("dropped push of worker {}: {}", x.worker, x.reason));
    for (auto& n : box.notes) d.log.push_back(std::move(n));
    if (box.stop) (box.stop->is_error ? d.fatal : d.stop) = box.stop->reason;
    return d;
  }

  std::unique_ptr<ServerCore> core_;
  std::uint64_t last_version_ = 0;
  std::unordered_map<PushId, std::uint64_t> samples_by_push_;  // pushes not yet applied or dropped
};

// Records each event with the version it left, then passes it on: the trace is exactly
// what the policy saw, in the order it saw it (InprocDriver::replay feeds it back).
class TracingLogic final : public ServerLogic {
 public:
  TracingLogic(std::unique_ptr<ServerLogic> inner, const std::filesystem::path& file) : inner_(std::move(inner)), file_(file) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    out_.open(file, std::ios::trunc);
    if (!out_) throw Error(fmt::format("{}: cannot create the trace file (real.trace)", file.string()));
    out_ << kServerTraceHeader << '\n';
  }
  ~TracingLogic() override { out_.flush(); }

  ShardDecisions on_push(Push&& p, double now) override {
    TraceEvent e{TraceEvent::Kind::Push, p.worker, p.clock, p.base_version, 0, 0};
    auto d = inner_->on_push(std::move(p), now);
    record(e);
    return d;
  }
  ShardDecisions on_pull(const PullRequest& p, double now) override {
    auto d = inner_->on_pull(p, now);
    record(TraceEvent{TraceEvent::Kind::Pull, p.worker, p.clock, 0, 0, 0});
    return d;
  }
  ShardDecisions on_worker_lost(int worker, double now) override {
    auto d = inner_->on_worker_lost(worker, now);
    record(TraceEvent{TraceEvent::Kind::Lost, worker, 0, 0, 0, 0});
    return d;
  }
  ShardDecisions on_worker_joined(int worker, double now) override {
    auto d = inner_->on_worker_joined(worker, now);
    record(TraceEvent{TraceEvent::Kind::Joined, worker, 0, 0, 0, 0});
    return d;
  }
  ShardDecisions on_timer(std::uint64_t id, double now) override {
    auto d = inner_->on_timer(id, now);
    record(TraceEvent{TraceEvent::Kind::Timer, -1, 0, 0, id, 0});
    return d;
  }
  std::span<const float> params() const override { return inner_->params(); }
  std::uint64_t version() const override { return inner_->version(); }
  std::string policy_name() const override { return inner_->policy_name(); }
  void save(std::ostream& out) const override {
    inner_->save(out);
    out_.flush();  // a checkpoint never lists events the trace lacks
  }
  void load(std::istream& in) override {
    inner_->load(in);
    record(TraceEvent{TraceEvent::Kind::Resumed, -1, 0, 0, 0, 0});
  }

 private:
  // A failed write (disk full) must not cost the job: the trace says where it broke off
  // (replay then fails at that point) and the log says why, once.
  void record(TraceEvent e) {
    if (broken_) return;
    e.version = inner_->version();
    out_ << format_trace_event(e) << '\n';
    if (!out_) {
      broken_ = true;
      spdlog::error("{}: cannot write the trace file (real.trace); tracing stops here", file_.string());
    }
  }

  std::unique_ptr<ServerLogic> inner_;
  std::filesystem::path file_;
  mutable std::ofstream out_;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<ServerLogic> make_server_logic(const RunConfig& config, const ModelSpec& spec, Range range,
                                               const std::filesystem::path& trace_file) {
  auto logic = std::make_unique<CoreLogic>(config, spec, range);
  if (trace_file.empty()) return logic;
  return std::make_unique<TracingLogic>(std::move(logic), trace_file);
}

}  // namespace synclab::real
