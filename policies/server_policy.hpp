#pragma once
// The server side of a synchronization policy: a pure state machine. Fed events (with the
// current model version, which only the ServerCore advances), it returns decisions. No
// clock (timers are requested with StartTimer), no I/O, no threads, no randomness.
#include <iosfwd>
#include <string>

#include "policies/events.hpp"

namespace synclab {

class ServerPolicy {
 public:
  virtual ~ServerPolicy() = default;
  /// Registry name, e.g. "ssp".
  virtual std::string name() const = 0;
  /// Name with every resolved parameter, e.g. "ssp(staleness=3, rule=plain, timeout=5, on_worker_lost=continue)".
  virtual std::string describe() const = 0;

  /// A push arrived (its payload is held by the core). `version` = current model version.
  virtual Decisions on_push(const PushInfo& push, Version version) = 0;
  /// A pull arrived: reply now (ReplyPull) or hold it and reply from a later event.
  virtual Decisions on_pull(const PullInfo& pull, Version version) = 0;
  /// The driver declared a worker lost (connection dropped, heartbeat missed, failure).
  virtual Decisions on_worker_lost(WorkerId worker, Version version) = 0;
  /// A worker (new or previously lost) is back; it will pull next.
  virtual Decisions on_worker_joined(WorkerId worker, Version version) = 0;
  /// A timer requested with StartTimer fired; unknown or stale ids are ignored.
  virtual Decisions on_timer(TimerId id, Version version) = 0;

  /// True when ApplyUpdate may use UpdateRule::DcAsgd: the core then keeps, per worker,
  /// a copy of the params it last replied to that worker with.
  virtual bool needs_pull_snapshots() const { return false; }
  /// True for policies whose pushes of one round are aggregated (bsp, backup, K-sync, local-sgd, ...).
  virtual bool synchronous() const = 0;

  /// Full policy state for checkpoints (binary, little-endian); load() expects the same
  /// policy and parameters and throws Error on a mismatch or truncated stream.
  virtual void save(std::ostream& out) const = 0;
  virtual void load(std::istream& in) = 0;
};

}  // namespace synclab
