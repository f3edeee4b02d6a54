#include "policies/server_core.hpp"

#include <algorithm>
#include <istream>
#include <ostream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/binary_io.hpp"

namespace synclab {

namespace {
constexpr const char* kMagic = "synclab-server-core-v1";
}

ServerCore::ServerCore(std::unique_ptr<ServerPolicy> policy, std::span<const float> initial, const ServerCoreOptions& options)
    : policy_(std::move(policy)), options_(options) {
  if (!policy_) throw Error("server core: no policy");
  if (options_.range.end < options_.range.begin) throw Error("server core: empty or inverted parameter range");
  if (!options_.timing_only) {
    if (initial.size() != options_.range.size())
      throw Error(fmt::format("server core: initial params have {} floats, range [{}, {}) needs {}", initial.size(),
                              options_.range.begin, options_.range.end, options_.range.size()));
    params_.assign(initial.begin(), initial.end());
    aggregate_.resize(params_.size());
    optimizer_ = make_optimizer(options_.optimizer, params_.size());
  }
}

ServerCore::~ServerCore() = default;

void ServerCore::push(const PushInfo& info, std::span<const float> payload) {
  push(info, std::vector<float>(payload.begin(), payload.end()));
}

void ServerCore::push(const PushInfo& info, std::vector<float>&& payload) {
  if (!options_.timing_only && payload.size() != params_.size())
    throw Error(fmt::format("server core: push {} from worker {} has {} floats, shard holds {}", info.id, info.worker,
                            payload.size(), params_.size()));
  if (pending_.count(info.id)) throw Error(fmt::format("server core: duplicate push id {} from worker {}", info.id, info.worker));
  if (options_.timing_only) payload.clear();
  pending_.emplace(info.id, Pending{info, std::move(payload)});
  Decisions decisions;
  try {
    decisions = policy_->on_push(info, version_);
  } catch (...) {
    pending_.erase(info.id);  // a rejected push (e.g. unknown worker id) leaves no trace
    throw;
  }
  execute(std::move(decisions));
}

void ServerCore::pull(const PullInfo& info) { execute(policy_->on_pull(info, version_)); }
void ServerCore::worker_lost(WorkerId worker) { execute(policy_->on_worker_lost(worker, version_)); }
void ServerCore::worker_joined(WorkerId worker) { execute(policy_->on_worker_joined(worker, version_)); }
void ServerCore::timer(TimerId id) { execute(policy_->on_timer(id, version_)); }

ServerOutbox ServerCore::take_outbox() {
  ServerOutbox out = std::move(outbox_);
  outbox_ = ServerOutbox{};
  return out;
}

void ServerCore::execute(Decisions decisions) {
  for (auto& d : decisions) {
    if (auto* a = std::get_if<ApplyUpdate>(&d)) {
      apply(*a);
    } else if (auto* dp = std::get_if<DropPush>(&d)) {
      auto it = pending_.find(dp->push);
      if (it == pending_.end()) throw Error(fmt::format("policy {} dropped unknown push {}", policy_->name(), dp->push));
      outbox_.dropped.push_back(DroppedRecord{dp->push, it->second.info.worker, dp->reason});
      pending_.erase(it);
      ++dropped_pushes_;
    } else if (auto* r = std::get_if<ReplyPull>(&d)) {
      reply(*r);
    } else if (auto* c = std::get_if<CancelStep>(&d)) {
      outbox_.cancels.push_back(c->worker);
    } else if (auto* t = std::get_if<StartTimer>(&d)) {
      outbox_.timers.push_back(*t);
    } else if (auto* s = std::get_if<StopRun>(&d)) {
      if (!outbox_.stop || (s->is_error && !outbox_.stop->is_error)) outbox_.stop = *s;
    } else if (auto* n = std::get_if<Note>(&d)) {
      outbox_.notes.push_back(n->text);
    }
  }
}

void ServerCore::apply(const ApplyUpdate& up) {
  if (up.pushes.empty()) throw Error(fmt::format("policy {} applied an empty update", policy_->name()));
  if (up.weights.size() != up.pushes.size())
    throw Error(fmt::format("policy {}: {} weights for {} pushes", policy_->name(), up.weights.size(), up.pushes.size()));
  std::vector<Pending*> items;
  for (PushId id : up.pushes) {
    auto it = pending_.find(id);
    if (it == pending_.end()) throw Error(fmt::format("policy {} applied unknown push {}", policy_->name(), id));
    items.push_back(&it->second);
  }
  const PayloadKind kind = items.front()->info.kind;
  for (auto* p : items)
    if (p->info.kind != kind) throw Error(fmt::format("policy {} mixed gradients and model deltas in one update", policy_->name()));

  if (!options_.timing_only) {
    std::fill(aggregate_.begin(), aggregate_.end(), 0.0f);
    const std::size_t n = params_.size();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const float w = static_cast<float>(up.weights[i]);
      const float* g = items[i]->payload.data();
      float* acc = aggregate_.data();
      if (up.rule == UpdateRule::DcAsgd && kind == PayloadKind::Gradient) {
        // w_bak: the params this worker was last sent; without one (no pull seen) no compensation.
        auto snap = pulled_.find(items[i]->info.worker);
        const float lambda = static_cast<float>(up.lambda);
        if (snap != pulled_.end() && snap->second && snap->second->size() == n) {
          const float* bak = snap->second->data();
          const float* cur = params_.data();
          for (std::size_t j = 0; j < n; ++j) acc[j] += w * (g[j] + lambda * g[j] * g[j] * (cur[j] - bak[j]));
          continue;
        }
      }
      for (std::size_t j = 0; j < n; ++j) acc[j] += w * g[j];
    }
    if (kind == PayloadKind::ModelDelta) {
      for (std::size_t j = 0; j < n; ++j) params_[j] += aggregate_[j];
    } else {
      optimizer_->step(params_, aggregate_, up.lr_scale);
    }
  }
  const Version before = version_;
  ++version_;
  for (auto* p : items) {
    outbox_.applied.push_back(AppliedRecord{version_, p->info.worker, p->info.id,
                                            static_cast<std::int64_t>(before) - static_cast<std::int64_t>(p->info.base_version),
                                            p->info.loss, p->info.local_steps});
    ++applied_pushes_;
  }
  for (PushId id : up.pushes) pending_.erase(id);
}

std::shared_ptr<const std::vector<float>> ServerCore::snapshot() {
  if (!snapshot_ || snapshot_version_ != version_) {
    snapshot_ = std::make_shared<const std::vector<float>>(params_);
    snapshot_version_ = version_;
  }
  return snapshot_;
}

void ServerCore::reply(const ReplyPull& r) {
  auto snap = snapshot();
  if (policy_->needs_pull_snapshots()) pulled_[r.worker] = snap;
  outbox_.replies.push_back(PullReply{r.worker, version_, std::move(snap), r.local_steps});
}

void ServerCore::save(std::ostream& out) const {
  bin::put_string(out, kMagic);
  bin::put_string(out, policy_->describe());
  bin::put<std::uint64_t>(out, options_.range.begin);
  bin::put<std::uint64_t>(out, options_.range.end);
  bin::put<char>(out, options_.timing_only ? 1 : 0);
  bin::put(out, version_);
  bin::put(out, applied_pushes_);
  bin::put(out, dropped_pushes_);
  bin::put_floats(out, params_);
  bin::put<char>(out, optimizer_ ? 1 : 0);
  if (optimizer_) optimizer_->save(out);
  bin::put<std::uint64_t>(out, pending_.size());
  for (const auto& [id, p] : pending_) {
    bin::put(out, p.info);
    bin::put_floats(out, p.payload);
  }
  bin::put<std::uint64_t>(out, pulled_.size());
  for (const auto& [w, snap] : pulled_) {
    bin::put(out, w);
    bin::put_floats(out, *snap);
  }
  policy_->save(out);
  if (!out) throw Error("checkpoint: write failed");
}

void ServerCore::load(std::istream& in) {
  bin::expect_tag(in, kMagic);
  const std::string described = bin::get_string(in, "policy");
  if (described != policy_->describe())
    throw Error(fmt::format("checkpoint: written by policy {}, this run uses {}", described, policy_->describe()));
  const auto begin = bin::get<std::uint64_t>(in, "range");
  const auto end = bin::get<std::uint64_t>(in, "range");
  if (begin != options_.range.begin || end != options_.range.end)
    throw Error(fmt::format("checkpoint: shard range [{}, {}) differs from this shard's [{}, {})", begin, end,
                            options_.range.begin, options_.range.end));
  const bool timing = bin::get<char>(in, "mode") != 0;
  if (timing != options_.timing_only) throw Error("checkpoint: timing-only mode differs");
  version_ = bin::get<Version>(in, "version");
  applied_pushes_ = bin::get<std::uint64_t>(in, "applied");
  dropped_pushes_ = bin::get<std::uint64_t>(in, "dropped");
  auto params = bin::get_floats(in, "params");
  if (params.size() != params_.size()) throw Error("checkpoint: parameter count differs");
  params_ = std::move(params);
  const bool has_opt = bin::get<char>(in, "optimizer") != 0;
  if (has_opt != (optimizer_ != nullptr)) throw Error("checkpoint: optimizer presence differs");
  if (optimizer_) optimizer_->load(in);
  pending_.clear();
  const auto np = bin::get<std::uint64_t>(in, "pending");
  for (std::uint64_t k = 0; k < np; ++k) {
    Pending p;
    p.info = bin::get<PushInfo>(in, "pending");
    p.payload = bin::get_floats(in, "pending");
    pending_.emplace(p.info.id, std::move(p));
  }
  pulled_.clear();
  const auto ns = bin::get<std::uint64_t>(in, "snapshots");
  for (std::uint64_t k = 0; k < ns; ++k) {
    const auto w = bin::get<WorkerId>(in, "snapshots");
    pulled_[w] = std::make_shared<const std::vector<float>>(bin::get_floats(in, "snapshots"));
  }
  policy_->load(in);
  snapshot_.reset();
  outbox_ = ServerOutbox{};
}

}  // namespace synclab
