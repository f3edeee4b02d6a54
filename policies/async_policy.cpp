#include "policies/async_policy.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/binary_io.hpp"

namespace synclab {

RuleConfig RuleConfig::read(PolicyParams& params, GradientRule def) {
  static const char* names[] = {"plain", "staleness-lr", "dc-asgd"};
  RuleConfig r;
  const std::string name = params.choice("rule", names[static_cast<int>(def)], {"plain", "staleness-lr", "dc-asgd"});
  r.rule = name == "plain" ? GradientRule::Plain : name == "staleness-lr" ? GradientRule::StalenessLr : GradientRule::DcAsgd;
  if (r.rule == GradientRule::DcAsgd) {
    r.lambda = params.real("lambda", r.lambda, 0.0, 1e6);
  } else if (params.has("lambda")) {
    throw ConfigError("policy.lambda", "only used with rule dc-asgd");
  }
  return r;
}

std::string RuleConfig::describe() const {
  switch (rule) {
    case GradientRule::Plain: return "rule=plain";
    case GradientRule::StalenessLr: return "rule=staleness-lr";
    case GradientRule::DcAsgd: return fmt::format("rule=dc-asgd, lambda={}", lambda);
  }
  return "";
}

AsyncPolicy::AsyncPolicy(AsyncConfig config, int workers, LossHandling handling)
    : config_(std::move(config)), members_(workers, handling, config_.name), state_(static_cast<std::size_t>(workers)) {
  rebuild_clocks();
}

std::string AsyncPolicy::describe() const {
  std::string s = config_.name + "(";
  if (!config_.params.empty()) s += config_.params + ", ";
  return s + config_.rule.describe() + ", " + members_.handling().describe() + ")";
}

std::optional<std::uint64_t> AsyncPolicy::slowest_clock() const {
  if (clocks_.empty()) return std::nullopt;
  return *clocks_.begin();
}

void AsyncPolicy::set_clock(WorkerId w, std::uint64_t clock) {
  auto& st = state_[static_cast<std::size_t>(w)];
  if (members_.counted(w)) {
    clocks_.erase(clocks_.find(st.clock));
    clocks_.insert(clock);
  }
  st.clock = clock;
}

// Membership changed: rebuild the counted clocks (rare, so O(W log W)).
void AsyncPolicy::rebuild_clocks() {
  clocks_.clear();
  for (int w = 0; w < members_.workers(); ++w)
    if (members_.counted(w)) clocks_.insert(state_[static_cast<std::size_t>(w)].clock);
}

void AsyncPolicy::try_release(WorkerId w, Decisions& out) {
  auto& st = state_[static_cast<std::size_t>(w)];
  if (!st.held) return;
  if (st.received < st.held_clock) return;  // its own push is still on the way
  if (config_.hold_until_applied && st.buffered > 0) return;
  if (config_.staleness) {
    const auto slowest = slowest_clock();
    // Not counted (excluded after a loss) workers are never held back by the others.
    if (slowest && members_.counted(w) && st.clock > *slowest + *config_.staleness) return;
  }
  st.held = false;
  held_.erase(w);
  out.push_back(ReplyPull{w, std::nullopt});
}

void AsyncPolicy::release_all(Decisions& out) {
  const std::vector<WorkerId> waiting(held_.begin(), held_.end());
  for (WorkerId w : waiting) try_release(w, out);
}

void AsyncPolicy::try_apply(Version version, Decisions& out, std::vector<WorkerId>& applied) {
  const int counted = members_.counted_count();
  const auto needed = static_cast<std::size_t>(std::max(1, config_.k));
  // K-async with fewer than k workers left still makes progress with what the others send.
  const bool shrink = config_.hold_until_applied && counted > 0 && static_cast<std::size_t>(counted) < needed;
  if (buffer_.empty() || (buffer_.size() < needed && !(shrink && buffer_.size() >= static_cast<std::size_t>(counted))))
    return;
  std::sort(buffer_.begin(), buffer_.end(), [](const PushInfo& a, const PushInfo& b) {
    return a.worker != b.worker ? a.worker < b.worker : a.id < b.id;
  });
  ApplyUpdate up;
  const double n = static_cast<double>(buffer_.size());
  for (const auto& p : buffer_) {
    up.pushes.push_back(p.id);
    double weight = 1.0 / n;
    const double staleness = std::max<double>(1.0, static_cast<double>(version - std::min(version, p.base_version)));
    if (config_.rule.rule == GradientRule::StalenessLr && buffer_.size() > 1) weight /= staleness;
    if (config_.rule.rule == GradientRule::StalenessLr && buffer_.size() == 1) up.lr_scale = 1.0 / staleness;
    up.weights.push_back(weight);
    --state_[static_cast<std::size_t>(p.worker)].buffered;
    applied.push_back(p.worker);
  }
  if (config_.rule.rule == GradientRule::DcAsgd) {
    up.rule = UpdateRule::DcAsgd;
    up.lambda = config_.rule.lambda;
  }
  buffer_.clear();
  out.push_back(std::move(up));
}

Decisions AsyncPolicy::on_push(const PushInfo& p, Version version) {
  members_.check(p.worker);
  Decisions out;
  auto& st = state_[static_cast<std::size_t>(p.worker)];
  st.received = std::max(st.received, p.worker_clock + 1);
  if (p.kind != PayloadKind::Gradient) {
    out.push_back(DropPush{p.id, config_.name + " expects gradient payloads"});
  } else if (p.base_version > version) {
    out.push_back(DropPush{p.id, fmt::format("base version {} is ahead of the server ({})", p.base_version, version)});
  } else {
    const auto before = slowest_clock();
    set_clock(p.worker, st.clock + 1);
    ++st.buffered;
    buffer_.push_back(p);
    std::vector<WorkerId> applied;
    try_apply(version, out, applied);
    // Only three kinds of pull can become answerable: the pusher's own, those of workers
    // whose pushes were just applied (kasync), and all held ones when the slowest advanced (ssp).
    if (config_.staleness && slowest_clock() != before) {
      release_all(out);
    } else {
      for (WorkerId w : applied) try_release(w, out);
    }
  }
  try_release(p.worker, out);
  return out;
}

Decisions AsyncPolicy::on_pull(const PullInfo& pull, Version) {
  members_.check(pull.worker);
  Decisions out;
  auto& st = state_[static_cast<std::size_t>(pull.worker)];
  if (st.resync) {
    st.received = std::max(st.received, pull.worker_clock);
    st.resync = false;
  }
  st.held = true;
  st.held_clock = pull.worker_clock;
  held_.insert(pull.worker);
  try_release(pull.worker, out);
  return out;
}

Decisions AsyncPolicy::on_worker_lost(WorkerId worker, Version version) {
  bool changed = false;
  Decisions out = members_.lost(worker, changed);
  state_[static_cast<std::size_t>(worker)].held = false;
  held_.erase(worker);
  if (changed) {
    rebuild_clocks();
    std::vector<WorkerId> applied;
    try_apply(version, out, applied);
    release_all(out);
  }
  return out;
}

Decisions AsyncPolicy::on_worker_joined(WorkerId worker, Version version) {
  bool changed = false;
  auto& st = state_[static_cast<std::size_t>(worker)];
  // Rejoining at the slowest clock of the others: it neither blocks them nor races ahead.
  std::optional<std::uint64_t> others;
  for (int w = 0; w < members_.workers(); ++w)
    if (w != worker && members_.counted(w)) {
      const auto c = state_[static_cast<std::size_t>(w)].clock;
      others = others ? std::min(*others, c) : c;
    }
  Decisions out = members_.joined(worker, changed);
  if (others) st.clock = std::max(st.clock, *others);
  st.held = false;
  held_.erase(worker);
  st.resync = true;
  rebuild_clocks();
  if (changed) {
    std::vector<WorkerId> applied;
    try_apply(version, out, applied);
    release_all(out);
  }
  return out;
}

Decisions AsyncPolicy::on_timer(TimerId id, Version version) {
  bool changed = false;
  Decisions out = members_.timer(id, changed);
  if (changed) {
    rebuild_clocks();
    std::vector<WorkerId> applied;
    try_apply(version, out, applied);
    release_all(out);
  }
  return out;
}

void AsyncPolicy::save(std::ostream& out) const {
  bin::put_string(out, "async:" + config_.name);
  members_.save(out);
  bin::put_vector(out, state_);
  bin::put_vector(out, buffer_);
}

void AsyncPolicy::load(std::istream& in) {
  bin::expect_tag(in, "async:" + config_.name);
  members_.load(in);
  auto state = bin::get_vector<WorkerState>(in, "policy.state");
  if (state.size() != state_.size()) throw Error("checkpoint: worker count differs from the configured policy");
  state_ = std::move(state);
  buffer_ = bin::get_vector<PushInfo>(in, "policy.buffer");
  rebuild_clocks();
  held_.clear();
  for (int w = 0; w < members_.workers(); ++w)
    if (state_[static_cast<std::size_t>(w)].held) held_.insert(w);
}

}  // namespace synclab
