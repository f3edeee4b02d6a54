#pragma once
// Value types that cross the policy seam: what a driver tells a policy (pushes, pulls,
// membership, timers) and what a policy decides in return. No clock, no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace synclab {

using WorkerId = int;             ///< 0 .. workers-1
using Version = std::uint64_t;    ///< model version: number of updates applied (per model, never per key)
using PushId = std::uint64_t;     ///< unique per push in a run; see make_push_id
using TimerId = std::uint64_t;    ///< chosen by the policy in StartTimer, echoed by the driver

/// What a push carries: a gradient (optimizer step on the server) or a model delta
/// (local params minus pulled params, averaged into the server params).
enum class PayloadKind { Gradient, ModelDelta };

/// Push id used by WorkerCore: worker in the high 32 bits, worker clock in the low 32.
constexpr PushId make_push_id(WorkerId worker, std::uint64_t clock) {
  return (static_cast<PushId>(static_cast<std::uint32_t>(worker)) << 32) | (clock & 0xffffffffULL);
}

/// A push as seen by the server: metadata only (the payload stays with the ServerCore).
struct PushInfo {
  PushId id = 0;                  ///< unique in the run
  WorkerId worker = 0;
  Version base_version = 0;       ///< version of the params the payload was computed on
  std::uint64_t worker_clock = 0; ///< pushes this worker made before this one
  double loss = 0;                ///< mean training loss over the local steps (0 in timing mode)
  PayloadKind kind = PayloadKind::Gradient;
  int local_steps = 1;            ///< local steps (batches) behind this payload
};

/// A pull request: the worker wants params to start its next step.
struct PullInfo {
  WorkerId worker = 0;
  std::uint64_t worker_clock = 0; ///< pushes this worker has made so far
};

/// How accepted gradients are turned into one optimizer step.
enum class UpdateRule {
  Plain,   ///< optimizer step on sum_i weight_i * g_i
  DcAsgd,  ///< each g_i first compensated: g + lambda * g*g*(w_now - w_pulled_by_worker)
};

/// Apply these pushes now as ONE new model version (version += 1).
struct ApplyUpdate {
  std::vector<PushId> pushes;     ///< in aggregation order: worker id, then push id
  std::vector<double> weights;    ///< one per push: the aggregate is sum weight_i * payload_i
  double lr_scale = 1.0;          ///< optimizer learning-rate multiplier for this step
  UpdateRule rule = UpdateRule::Plain;
  double lambda = 0.0;            ///< DcAsgd only
};

/// Discard a push without applying it (too stale, late, from a finished round).
struct DropPush {
  PushId push = 0;
  std::string reason;             ///< one line, e.g. "late: round of version 4 already closed"
};

/// Answer this worker's held pull now with the current params and version.
struct ReplyPull {
  WorkerId worker = 0;
  std::optional<int> local_steps; ///< new tau for the worker (adaptive communication)
};

/// Advise the worker to abandon its current computation (its push would be dropped).
struct CancelStep {
  WorkerId worker = 0;
};

/// Ask the driver to call on_timer(id) after `seconds` of (simulated or real) time.
struct StartTimer {
  TimerId id = 0;
  double seconds = 0;
};

/// End the run: normally (is_error false) or with a one-line error for the user.
struct StopRun {
  std::string reason;
  bool is_error = false;
};

/// A logged decision (worker lost/excluded/rejoined, round closed short, ...).
struct Note {
  std::string text;
};

/// One decision of a server policy; decisions are executed in the order returned.
using Decision = std::variant<ApplyUpdate, DropPush, ReplyPull, CancelStep, StartTimer, StopRun, Note>;
using Decisions = std::vector<Decision>;

}  // namespace synclab
