// ksync: K-sync SGD (Dutta et al., AISTATS 2018). Each round applies the mean of the first
// K gradients computed on the current version; the other workers are cancelled (their
// gradients, if they still arrive, are dropped) and everyone restarts from the new version.
#include <fmt/format.h>

#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_ksync(PolicyParams& params, int workers) {
  SyncRoundConfig c;
  c.name = "ksync";
  c.quorum = static_cast<int>(params.integer("k", (workers + 1) / 2, 1, workers));
  c.params = fmt::format("k={}", c.quorum);
  c.cancel_stragglers = true;
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
