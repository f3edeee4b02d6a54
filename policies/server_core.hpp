#pragma once
// ServerCore: one parameter-server shard = a range of the flat parameter buffer + an
// optimizer over it + a ServerPolicy. Drivers feed it events and drain its outbox after
// every call; it never blocks, never reads a clock and does no I/O except checkpoints.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/optim/optimizer.hpp"
#include "core/tensor/param_layout.hpp"
#include "policies/events.hpp"
#include "policies/server_policy.hpp"

namespace synclab {

struct ServerCoreOptions {
  Range range;                    ///< the part of the flat buffer this shard owns
  OptimizerSpec optimizer;        ///< train.optimizer; model deltas (local-sgd) bypass it
  bool timing_only = false;       ///< no math: payloads may be empty, params never change
};

/// A pull to answer now. `params` is an immutable snapshot of this shard at `version`,
/// shared by every reply of the same version (safe to send after later core calls).
struct PullReply {
  WorkerId worker = 0;
  Version version = 0;
  std::shared_ptr<const std::vector<float>> params;  ///< empty vector in timing mode
  std::optional<int> local_steps;                    ///< tau hint for adaptive policies
};

/// One applied push, i.e. one updates.csv row (the driver adds time_s).
struct AppliedRecord {
  Version update = 0;             ///< the version this update created (1 for the first)
  WorkerId worker = 0;
  PushId push = 0;
  std::int64_t staleness = 0;     ///< version before the apply minus the push's base_version
  double loss = 0;
  int local_steps = 1;            ///< local steps behind the gradient: it counts local_steps x batch samples
};

/// One dropped push (logged by the driver; never applied).
struct DroppedRecord {
  PushId push = 0;
  WorkerId worker = 0;
  std::string reason;
};

/// Everything the driver must act on after a core call, in decision order per field.
struct ServerOutbox {
  std::vector<PullReply> replies;     ///< send to the workers
  std::vector<WorkerId> cancels;      ///< advise these workers to abandon their step
  std::vector<StartTimer> timers;     ///< call timer(id) after the given seconds
  std::vector<AppliedRecord> applied; ///< rows for updates.csv
  std::vector<DroppedRecord> dropped; ///< log lines
  std::vector<std::string> notes;     ///< logged policy decisions
  std::optional<StopRun> stop;        ///< end the run (error or not)
  bool empty() const {
    return replies.empty() && cancels.empty() && timers.empty() && applied.empty() && dropped.empty() &&
           notes.empty() && !stop;
  }
};

class ServerCore {
 public:
  /// `initial` holds range.size() floats (ignored in timing mode). Throws Error on a size mismatch.
  ServerCore(std::unique_ptr<ServerPolicy> policy, std::span<const float> initial, const ServerCoreOptions& options);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  /// A push with its payload over this shard's range (range.size() floats; may be empty in
  /// timing mode). Throws Error on a wrong size or a duplicate push id.
  void push(const PushInfo& info, std::span<const float> payload);
  /// Same, taking ownership of the payload buffer (no copy).
  void push(const PushInfo& info, std::vector<float>&& payload);
  void pull(const PullInfo& info);
  void worker_lost(WorkerId worker);
  void worker_joined(WorkerId worker);
  void timer(TimerId id);

  /// Takes what accumulated since the last call; drivers call it after every event.
  ServerOutbox take_outbox();

  Version version() const { return version_; }                  ///< updates applied so far
  std::span<const float> params() const { return params_; }     ///< this shard's current params
  const ServerPolicy& policy() const { return *policy_; }
  const ServerCoreOptions& options() const { return options_; }
  std::uint64_t applied_pushes() const { return applied_pushes_; }  ///< pushes applied (not dropped)
  std::uint64_t dropped_pushes() const { return dropped_pushes_; }
  std::size_t pending_pushes() const { return pending_.size(); }    ///< received, not yet decided

  /// Full state (params, optimizer, version, counters, pending pushes, snapshots, policy)
  /// as a binary stream; load() restores it into a core built with the same policy and
  /// options, and throws Error on a mismatch or truncated stream.
  void save(std::ostream& out) const;
  void load(std::istream& in);

 private:
  struct Pending {
    PushInfo info;
    std::vector<float> payload;
  };
  void execute(Decisions decisions);
  void apply(const ApplyUpdate& update);
  void reply(const ReplyPull& reply);
  std::shared_ptr<const std::vector<float>> snapshot();

  std::unique_ptr<ServerPolicy> policy_;
  ServerCoreOptions options_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<float> params_;
  std::vector<float> aggregate_;                       // scratch: weighted sum of payloads
  Version version_ = 0;
  std::uint64_t applied_pushes_ = 0, dropped_pushes_ = 0;
  std::map<PushId, Pending> pending_;
  std::map<WorkerId, std::shared_ptr<const std::vector<float>>> pulled_;  // dc-asgd: params each worker last got
  std::shared_ptr<const std::vector<float>> snapshot_;  // params at snapshot_version_, shared by replies
  Version snapshot_version_ = 0;
  ServerOutbox outbox_;
};

}  // namespace synclab
