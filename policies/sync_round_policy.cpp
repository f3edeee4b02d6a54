#include "policies/sync_round_policy.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/binary_io.hpp"

namespace synclab {

SyncRoundPolicy::SyncRoundPolicy(SyncRoundConfig config, int workers, LossHandling handling)
    : config_(std::move(config)), members_(workers, handling, config_.name),
      state_(static_cast<std::size_t>(workers)), tau_(config_.tau) {}

std::string SyncRoundPolicy::describe() const {
  std::string s = config_.name + "(";
  if (!config_.params.empty()) s += config_.params + ", ";
  return s + members_.handling().describe() + ")";
}

ReplyPull SyncRoundPolicy::reply_to(WorkerId w) {
  auto& st = state_[static_cast<std::size_t>(w)];
  st.held = false;
  st.computing = true;
  ReplyPull r{w, std::nullopt};
  if (config_.adaptive_tau) r.local_steps = tau_;
  return r;
}

void SyncRoundPolicy::try_release(WorkerId w, Decisions& out) {
  auto& st = state_[static_cast<std::size_t>(w)];
  if (!st.held) return;
  // A pull never overtakes its worker's own push: the reply must reflect that push's round.
  if (st.received < st.held_clock) return;
  if (config_.hold_pull_after_push && st.in_round > 0) return;
  out.push_back(reply_to(w));
}

bool SyncRoundPolicy::round_complete() const {
  if (round_.empty()) return false;
  const int counted = members_.counted_count();
  if (counted == 0) return false;
  if (config_.quorum == 0) return contributors_ >= counted;
  const auto needed = static_cast<std::size_t>(config_.one_push_per_worker ? std::min(config_.quorum, counted) : config_.quorum);
  return round_.size() >= needed;
}

void SyncRoundPolicy::try_close(Version version, Decisions& out) {
  if (!round_complete()) return;
  // Worker-id order (then push id) makes the sum bit-reproducible whatever the arrival order.
  std::sort(round_.begin(), round_.end(), [](const PushInfo& a, const PushInfo& b) {
    return a.worker != b.worker ? a.worker < b.worker : a.id < b.id;
  });
  ApplyUpdate up;
  const double weight = 1.0 / static_cast<double>(round_.size());
  double loss = 0;
  for (const auto& p : round_) {
    up.pushes.push_back(p.id);
    up.weights.push_back(weight);
    loss += p.loss;
  }
  loss /= static_cast<double>(round_.size());
  out.push_back(std::move(up));
  ++rounds_;
  if (config_.adaptive_tau) {
    // AdaComm: tau_l = ceil(sqrt(F_l / F_0) * tau_0), re-evaluated every `interval` rounds.
    if (!first_loss_) first_loss_ = loss;
    if (rounds_ % static_cast<std::uint64_t>(config_.interval) == 0 && *first_loss_ > 0 && std::isfinite(loss)) {
      const double t = std::ceil(std::sqrt(std::max(0.0, loss) / *first_loss_) * config_.tau);
      const int next = static_cast<int>(std::clamp(t, 1.0, static_cast<double>(config_.tau)));
      if (next != tau_) out.push_back(Note{fmt::format("adacomm: tau {} -> {} (loss {:.4g}, first {:.4g})", tau_, next, loss, *first_loss_)});
      tau_ = next;
    }
  }
  round_.clear();
  contributors_ = 0;
  for (auto& st : state_) st.in_round = 0;
  for (int w = 0; w < members_.workers(); ++w) {
    auto& st = state_[static_cast<std::size_t>(w)];
    if (st.held) {
      try_release(w, out);
    } else if (config_.cancel_stragglers && st.computing && members_.alive(w)) {
      out.push_back(CancelStep{w});
    }
  }
  (void)version;
}

// Membership changed: who counts among the contributors changed too (rare, so O(W)).
void SyncRoundPolicy::recount() {
  contributors_ = 0;
  for (int w = 0; w < members_.workers(); ++w)
    if (members_.counted(w) && state_[static_cast<std::size_t>(w)].in_round > 0) ++contributors_;
}

Decisions SyncRoundPolicy::on_push(const PushInfo& p, Version version) {
  members_.check(p.worker);
  Decisions out;
  auto& st = state_[static_cast<std::size_t>(p.worker)];
  st.received = std::max(st.received, p.worker_clock + 1);
  st.computing = false;
  if (p.kind != config_.payload) {
    out.push_back(DropPush{p.id, fmt::format("{} expects {} payloads", config_.name,
                                             config_.payload == PayloadKind::Gradient ? "gradient" : "model-delta")});
  } else if (p.base_version != version) {
    out.push_back(DropPush{p.id, fmt::format("late: computed on version {}, round of version {} open", p.base_version, version)});
  } else if (!members_.alive(p.worker)) {
    out.push_back(DropPush{p.id, fmt::format("worker {} is marked lost", p.worker)});
  } else if (config_.one_push_per_worker && st.in_round > 0) {
    out.push_back(DropPush{p.id, fmt::format("duplicate: worker {} already pushed for version {}", p.worker, version)});
  } else {
    round_.push_back(p);
    if (st.in_round == 0 && members_.counted(p.worker)) ++contributors_;
    ++st.in_round;
  }
  try_close(version, out);
  try_release(p.worker, out);
  return out;
}

Decisions SyncRoundPolicy::on_pull(const PullInfo& pull, Version) {
  members_.check(pull.worker);
  Decisions out;
  auto& st = state_[static_cast<std::size_t>(pull.worker)];
  if (st.resync) {
    st.received = std::max(st.received, pull.worker_clock);
    st.resync = false;
  }
  st.held = true;
  st.held_clock = pull.worker_clock;
  try_release(pull.worker, out);
  return out;
}

Decisions SyncRoundPolicy::on_worker_lost(WorkerId worker, Version version) {
  bool changed = false;
  Decisions out = members_.lost(worker, changed);
  auto& st = state_[static_cast<std::size_t>(worker)];
  st.held = false;
  st.computing = false;
  if (changed) {
    recount();
    try_close(version, out);
  }
  return out;
}

Decisions SyncRoundPolicy::on_worker_joined(WorkerId worker, Version version) {
  bool changed = false;
  Decisions out = members_.joined(worker, changed);
  auto& st = state_[static_cast<std::size_t>(worker)];
  st.held = false;
  st.computing = false;
  st.resync = true;
  if (changed) {
    recount();
    try_close(version, out);
  }
  return out;
}

Decisions SyncRoundPolicy::on_timer(TimerId id, Version version) {
  bool changed = false;
  Decisions out = members_.timer(id, changed);
  if (changed) {
    recount();
    try_close(version, out);
  }
  return out;
}

void SyncRoundPolicy::save(std::ostream& out) const {
  bin::put_string(out, "sync-round:" + config_.name);
  members_.save(out);
  bin::put_vector(out, state_);
  bin::put_vector(out, round_);
  bin::put<char>(out, first_loss_ ? 1 : 0);
  bin::put<double>(out, first_loss_.value_or(0));
  bin::put(out, rounds_);
  bin::put(out, tau_);
}

void SyncRoundPolicy::load(std::istream& in) {
  bin::expect_tag(in, "sync-round:" + config_.name);
  members_.load(in);
  auto state = bin::get_vector<WorkerState>(in, "policy.state");
  if (state.size() != state_.size()) throw Error("checkpoint: worker count differs from the configured policy");
  state_ = std::move(state);
  round_ = bin::get_vector<PushInfo>(in, "policy.round");
  const bool has_loss = bin::get<char>(in, "policy.first_loss") != 0;
  const double loss = bin::get<double>(in, "policy.first_loss");
  first_loss_ = has_loss ? std::optional<double>(loss) : std::nullopt;
  rounds_ = bin::get<std::uint64_t>(in, "policy.rounds");
  tau_ = bin::get<int>(in, "policy.tau");
  recount();
}

}  // namespace synclab
