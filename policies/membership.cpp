#include "policies/membership.hpp"

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/binary_io.hpp"

namespace synclab {

LossHandling LossHandling::read(PolicyParams& params) {
  LossHandling h;
  h.timeout = params.seconds("timeout", h.timeout);
  h.stop = params.choice("on_worker_lost", "continue", {"continue", "stop"}) == "stop";
  return h;
}

std::string LossHandling::describe() const {
  return fmt::format("timeout={}, on_worker_lost={}", timeout, stop ? "stop" : "continue");
}

Membership::Membership(int workers, LossHandling handling, std::string policy_name)
    : handling_(handling), policy_(std::move(policy_name)),
      alive_(static_cast<std::size_t>(workers), 1), counted_(static_cast<std::size_t>(workers), 1), counted_n_(workers) {}

void Membership::check(WorkerId w) const {
  if (w < 0 || w >= workers())
    throw Error(fmt::format("policy {}: worker id {} outside [0, {})", policy_, w, workers()));
}

Decisions Membership::lost(WorkerId w, bool& changed) {
  check(w);
  Decisions out;
  const auto i = static_cast<std::size_t>(w);
  if (!alive_[i]) return out;
  alive_[i] = 0;
  if (handling_.stop) {
    out.push_back(StopRun{fmt::format("worker {} lost under {} (policy.on_worker_lost: stop)", w, policy_), true});
    return out;
  }
  if (handling_.timeout <= 0) {
    counted_[i] = 0;
    --counted_n_;
    changed = true;
    out.push_back(Note{fmt::format("worker {} lost; continuing with {} workers", w, counted_count())});
  } else {
    const TimerId id = next_timer_++;
    timers_[id] = w;
    out.push_back(StartTimer{id, handling_.timeout});
    out.push_back(Note{fmt::format("worker {} lost; waiting up to {} s for it to rejoin", w, handling_.timeout)});
  }
  if (counted_count() == 0)
    out.push_back(StopRun{fmt::format("all {} workers lost under {}", workers(), policy_), true});
  return out;
}

Decisions Membership::joined(WorkerId w, bool& changed) {
  check(w);
  Decisions out;
  const auto i = static_cast<std::size_t>(w);
  const bool was_alive = alive_[i] != 0;
  alive_[i] = 1;
  for (auto it = timers_.begin(); it != timers_.end();) it = it->second == w ? timers_.erase(it) : std::next(it);
  if (!counted_[i]) {
    counted_[i] = 1;
    ++counted_n_;
    changed = true;
  }
  if (!was_alive) out.push_back(Note{fmt::format("worker {} rejoined; {} workers counted", w, counted_count())});
  return out;
}

Decisions Membership::timer(TimerId id, bool& changed) {
  Decisions out;
  auto it = timers_.find(id);
  if (it == timers_.end()) return out;  // the worker rejoined meanwhile, or a foreign timer
  const WorkerId w = it->second;
  timers_.erase(it);
  const auto i = static_cast<std::size_t>(w);
  if (alive_[i] || !counted_[i]) return out;
  counted_[i] = 0;
  --counted_n_;
  changed = true;
  out.push_back(Note{fmt::format("worker {} did not rejoin within {} s; continuing with {} workers", w,
                                 handling_.timeout, counted_count())});
  if (counted_count() == 0)
    out.push_back(StopRun{fmt::format("all {} workers lost under {}", workers(), policy_), true});
  return out;
}

void Membership::save(std::ostream& out) const {
  bin::put_string(out, "membership");
  bin::put_vector(out, alive_);
  bin::put_vector(out, counted_);
  bin::put<std::uint64_t>(out, timers_.size());
  for (const auto& [id, w] : timers_) {
    bin::put(out, id);
    bin::put(out, w);
  }
  bin::put(out, next_timer_);
}

void Membership::load(std::istream& in) {
  bin::expect_tag(in, "membership");
  auto alive = bin::get_vector<char>(in, "membership.alive");
  auto counted = bin::get_vector<char>(in, "membership.counted");
  if (alive.size() != alive_.size() || counted.size() != counted_.size())
    throw Error(fmt::format("checkpoint: policy {} has {} workers, checkpoint has {}", policy_, alive_.size(), alive.size()));
  alive_ = std::move(alive);
  counted_ = std::move(counted);
  counted_n_ = 0;
  for (char c : counted_) counted_n_ += c ? 1 : 0;
  timers_.clear();
  const auto n = bin::get<std::uint64_t>(in, "membership.timers");
  for (std::uint64_t k = 0; k < n; ++k) {
    const auto id = bin::get<TimerId>(in, "membership.timer");
    timers_[id] = bin::get<WorkerId>(in, "membership.timer");
  }
  next_timer_ = bin::get<TimerId>(in, "membership.next_timer");
}

}  // namespace synclab
