#pragma once
// The engine behind every round-based synchronous policy (bsp, backup, ksync, kbatch-sync,
// local-sgd, adacomm). A round collects pushes computed on the current version; it closes
// when its quorum is met, applying their mean as one update and releasing held pulls.
// Pushes computed on an older version are late and dropped.
#include <optional>
#include <string>
#include <vector>

#include "policies/membership.hpp"
#include "policies/server_policy.hpp"

namespace synclab {

struct SyncRoundConfig {
  std::string name;                 ///< registry name
  std::string params;               ///< policy-specific part of describe(), e.g. "backup=2"
  int quorum = 0;                   ///< pushes that close a round; 0 = one from every counted worker
  bool one_push_per_worker = true;  ///< false (kbatch-sync): a worker may add several batches
  bool hold_pull_after_push = true; ///< a worker that pushed waits for the round to close
  bool cancel_stragglers = false;   ///< CancelStep to workers still computing when a round closes
  PayloadKind payload = PayloadKind::Gradient;
  bool adaptive_tau = false;        ///< adacomm: tau follows sqrt(loss / first loss)
  int tau = 1;                      ///< local steps (the initial tau when adaptive)
  int interval = 10;                ///< adacomm: rounds between tau adjustments
};

class SyncRoundPolicy : public ServerPolicy {
 public:
  SyncRoundPolicy(SyncRoundConfig config, int workers, LossHandling handling);
  std::string name() const override { return config_.name; }
  std::string describe() const override;
  Decisions on_push(const PushInfo& push, Version version) override;
  Decisions on_pull(const PullInfo& pull, Version version) override;
  Decisions on_worker_lost(WorkerId worker, Version version) override;
  Decisions on_worker_joined(WorkerId worker, Version version) override;
  Decisions on_timer(TimerId id, Version version) override;
  bool synchronous() const override { return true; }
  void save(std::ostream& out) const override;
  void load(std::istream& in) override;
  int tau() const { return tau_; }  ///< current tau (adaptive policies)

 private:
  struct WorkerState {
    std::uint64_t received = 0;     // pushes seen (applied, buffered or dropped)
    std::uint64_t in_round = 0;     // pushes of this worker in the open round
    bool held = false;              // a pull waits
    std::uint64_t held_clock = 0;   // its worker clock
    bool computing = false;         // got params, has not pushed since
    bool resync = false;            // rejoined: trust the clock of its next pull
  };
  void try_release(WorkerId w, Decisions& out);
  void try_close(Version version, Decisions& out);
  bool round_complete() const;
  ReplyPull reply_to(WorkerId w);

  SyncRoundConfig config_;
  Membership members_;
  std::vector<WorkerState> state_;
  void recount();
  std::vector<PushInfo> round_;     // pushes of the open round, arrival order
  int contributors_ = 0;            // counted workers with a push in the open round
  std::optional<double> first_loss_;
  std::uint64_t rounds_ = 0;
  int tau_ = 1;
};

}  // namespace synclab
