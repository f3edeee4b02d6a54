#pragma once
// The engine behind the asynchronous family (async, ssp, kasync, kbatch-async, staleness-lr,
// dc-asgd). Pushes of any version are buffered and applied k at a time (k = 1: on arrival).
// Pulls are answered at once, or held until the worker's own pushes are applied (kasync),
// or until the worker is at most `staleness` clocks ahead of the slowest counted worker (ssp).
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policies/membership.hpp"
#include "policies/server_policy.hpp"

namespace synclab {

/// How an accepted gradient is weighted or corrected before the optimizer step.
enum class GradientRule {
  Plain,        ///< as is
  StalenessLr,  ///< learning rate divided by max(1, staleness) (Zhang et al. 2016)
  DcAsgd,       ///< delay compensation with constant lambda (Zheng et al. 2017)
};

/// Reads `rule` (plain | staleness-lr | dc-asgd) and `lambda` (dc-asgd only, default 0.04).
struct RuleConfig {
  GradientRule rule = GradientRule::Plain;
  double lambda = 0.04;
  static RuleConfig read(PolicyParams& params, GradientRule def);
  std::string describe() const;  ///< "rule=dc-asgd, lambda=0.04"
};

struct AsyncConfig {
  std::string name;                          ///< registry name
  std::string params;                        ///< policy-specific part of describe()
  int k = 1;                                 ///< pushes per update (K-async / K-batch-async)
  bool hold_until_applied = false;           ///< kasync: a worker waits for its own pushes
  std::optional<std::uint64_t> staleness;    ///< ssp: clock bound s
  RuleConfig rule;
};

class AsyncPolicy : public ServerPolicy {
 public:
  AsyncPolicy(AsyncConfig config, int workers, LossHandling handling);
  std::string name() const override { return config_.name; }
  std::string describe() const override;
  Decisions on_push(const PushInfo& push, Version version) override;
  Decisions on_pull(const PullInfo& pull, Version version) override;
  Decisions on_worker_lost(WorkerId worker, Version version) override;
  Decisions on_worker_joined(WorkerId worker, Version version) override;
  Decisions on_timer(TimerId id, Version version) override;
  bool needs_pull_snapshots() const override { return config_.rule.rule == GradientRule::DcAsgd; }
  bool synchronous() const override { return false; }
  void save(std::ostream& out) const override;
  void load(std::istream& in) override;

 private:
  struct WorkerState {
    std::uint64_t received = 0;  // pushes seen from this worker
    std::uint64_t clock = 0;     // ssp clock: pushes seen, lifted to the slowest on rejoin
    std::uint64_t buffered = 0;  // its pushes waiting in the buffer
    bool held = false;
    std::uint64_t held_clock = 0;
    bool resync = false;
  };
  void try_apply(Version version, Decisions& out, std::vector<WorkerId>& applied);
  void release_all(Decisions& out);
  void try_release(WorkerId w, Decisions& out);
  std::optional<std::uint64_t> slowest_clock() const;
  void set_clock(WorkerId w, std::uint64_t clock);
  void rebuild_clocks();

  AsyncConfig config_;
  Membership members_;
  std::vector<WorkerState> state_;
  std::vector<PushInfo> buffer_;
  std::multiset<std::uint64_t> clocks_;  // ssp clocks of the counted workers: O(log W) slowest
  std::set<WorkerId> held_;              // workers whose pull waits
};

}  // namespace synclab
