// kbatch-sync: K-batch-sync SGD (Dutta et al., AISTATS 2018). Each round applies the mean of
// the first K mini-batch gradients computed on the current version, from any workers: a
// worker that pushed pulls the same version again and computes another batch. When the
// round closes, workers still computing are cancelled and all restart from the new version.
#include <fmt/format.h>

#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_kbatch_sync(PolicyParams& params, int workers) {
  SyncRoundConfig c;
  c.name = "kbatch-sync";
  c.quorum = static_cast<int>(params.integer("k", workers, 1, 1'000'000));
  c.params = fmt::format("k={}", c.quorum);
  c.one_push_per_worker = false;
  c.hold_pull_after_push = false;
  c.cancel_stragglers = true;
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
