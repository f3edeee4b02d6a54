// local-sgd: periodic model averaging (local SGD; Stich 2019, Lin et al. 2020). Each worker
// runs tau plain SGD steps on its own copy, then pushes its model delta; the server adds the
// mean delta of all counted workers (one update per round) and every worker pulls the average.
#include <fmt/format.h>

#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_local_sgd(PolicyParams& params, int workers) {
  SyncRoundConfig c;
  c.name = "local-sgd";
  c.payload = PayloadKind::ModelDelta;
  c.tau = static_cast<int>(params.integer("tau", 10, 1, 1'000'000));
  WorkerPolicy wp;
  wp.payload = PayloadKind::ModelDelta;
  wp.local_steps = c.tau;
  wp.local_lr = params.real("lr", 0.0, 0.0, 1e6);
  c.params = fmt::format("tau={}, lr={}", c.tau, wp.local_lr);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), wp};
}

}  // namespace synclab
