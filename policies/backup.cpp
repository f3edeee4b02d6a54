// backup: synchronous SGD with backup workers (Chen et al. 2016, "Revisiting Distributed
// Synchronous SGD"). cluster.workers = N + b; each round applies the mean of the first N
// gradients computed on the current version; the b late ones are dropped when they arrive.
#include <fmt/format.h>

#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_backup(PolicyParams& params, int workers) {
  const auto b = params.integer("backup", 1, 0, 1'000'000);
  if (b >= workers)
    throw ConfigError("policy.backup", fmt::format("{} backup workers leave none of the {} workers to wait for", b, workers));
  SyncRoundConfig c;
  c.name = "backup";
  c.params = fmt::format("backup={}, N={}", b, workers - b);
  c.quorum = workers - static_cast<int>(b);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
