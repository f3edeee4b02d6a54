// bsp: bulk-synchronous parallel SGD. Every counted worker pushes one gradient computed on
// the current version; their mean is applied as one update; every pull waits for it.
#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_bsp(PolicyParams& params, int workers) {
  SyncRoundConfig c;
  c.name = "bsp";
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
