#pragma once
// Which workers a policy waits for. A lost worker is waited for up to `timeout` seconds
// (StartTimer), then excluded so the others continue; or the run stops with an error when
// on_worker_lost is "stop". A lost worker that rejoins is counted again.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "policies/events.hpp"
#include "policies/policy_params.hpp"

namespace synclab {

/// Parameters `timeout` (seconds, default 5) and `on_worker_lost` (continue | stop).
struct LossHandling {
  double timeout = 5.0;
  bool stop = false;
  /// Reads both keys from the policy parameters.
  static LossHandling read(PolicyParams& params);
  std::string describe() const;  ///< "timeout=5, on_worker_lost=continue"
};

class Membership {
 public:
  Membership(int workers, LossHandling handling, std::string policy_name);
  int workers() const { return static_cast<int>(alive_.size()); }
  bool alive(WorkerId w) const { return alive_.at(static_cast<std::size_t>(w)) != 0; }
  /// Counted workers are waited for: alive ones plus lost ones still within their timeout.
  bool counted(WorkerId w) const { return counted_.at(static_cast<std::size_t>(w)) != 0; }
  int counted_count() const { return counted_n_; }
  /// Throws Error when w is outside [0, workers).
  void check(WorkerId w) const;
  /// Event handlers; `changed` becomes true when the counted set changed.
  Decisions lost(WorkerId w, bool& changed);
  Decisions joined(WorkerId w, bool& changed);
  Decisions timer(TimerId id, bool& changed);
  const LossHandling& handling() const { return handling_; }
  void save(std::ostream& out) const;
  void load(std::istream& in);

 private:
  LossHandling handling_;
  std::string policy_;
  std::vector<char> alive_, counted_;
  int counted_n_ = 0;  // workers with counted_ set
  std::map<TimerId, WorkerId> timers_;
  TimerId next_timer_ = 1;
};

}  // namespace synclab
