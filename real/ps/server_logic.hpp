#pragma once
// What the parameter-server driver needs from the policy's server side, in driver terms:
// events in (push, pull, worker lost/joined, timer), decisions out. The implementation
// wraps the policies' ServerCore; the driver only carries messages and time.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "core/models/model_spec.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {

/// One gradient applied to the model: a row of updates.csv.
struct AppliedGradient {
  int worker = 0;
  std::int64_t staleness = 0;
  double loss = 0;
  std::uint64_t update = 0;  ///< the model version it produced (or was folded into)
  std::uint64_t samples = 0; ///< training samples behind the gradient (what "samples" counts)
};

/// A pull to answer now with an immutable snapshot of the shard's parameters.
struct ParamsToSend {
  int worker = 0;
  std::uint64_t version = 0;
  std::shared_ptr<const std::vector<float>> params;
  std::int32_t tau_hint = -1;
};

/// A timer the policy wants: on_timer(id) at `at` seconds of run time.
struct TimerRequest {
  std::uint64_t id = 0;
  double at = 0;
};

/// Decisions of one event.
struct ShardDecisions {
  std::vector<AppliedGradient> applied;  ///< gradients applied, in order
  std::uint64_t new_updates = 0;         ///< new model versions created by this event
  std::vector<ParamsToSend> replies;     ///< pulls (held or new) to answer now
  std::vector<int> cancels;              ///< workers told to abandon their step in flight
  std::vector<TimerRequest> timers;
  std::vector<std::string> log;          ///< decisions worth a log line ("worker 2 lost: continuing with 3")
  std::string fatal;                     ///< non-empty: the policy cannot continue (job fails with this)
  std::string stop;                      ///< non-empty: the policy ends the run normally, with this reason
};

class ServerLogic {
 public:
  virtual ~ServerLogic() = default;
  virtual ShardDecisions on_push(Push&& push, double now) = 0;  ///< takes the payload
  virtual ShardDecisions on_pull(const PullRequest& pull, double now) = 0;
  virtual ShardDecisions on_worker_lost(int worker, double now) = 0;
  virtual ShardDecisions on_worker_joined(int worker, double now) = 0;
  virtual ShardDecisions on_timer(std::uint64_t id, double now) = 0;
  virtual std::span<const float> params() const = 0;      ///< this shard's range, current version
  virtual std::uint64_t version() const = 0;              ///< model versions so far (= updates)
  virtual std::string policy_name() const = 0;
  /// Whole server state (params, optimizer, versions, policy state) for checkpoints.
  virtual void save(std::ostream& out) const = 0;
  virtual void load(std::istream& in) = 0;
};

/// The policy named in config.policy, serving `range` of spec's flat buffer, with params
/// initialised exactly as the in-process driver does (init_params from train.seed). With a
/// non-empty `trace_file`, every event is also recorded there (policies/server_trace.hpp);
/// throws Error when that file cannot be created.
std::unique_ptr<ServerLogic> make_server_logic(const RunConfig& config, const ModelSpec& spec, Range range,
                                               const std::filesystem::path& trace_file = {});

}  // namespace synclab::real
