// adacomm: adaptive communication for local SGD (Wang & Joshi, "Adaptive Communication
// Strategies to Achieve the Best Error-Runtime Trade-off in Local-Update SGD", SysML 2019).
// Local SGD whose tau starts at tau_0 and, every `interval` rounds, becomes
// ceil(sqrt(F / F_0) * tau_0) (clamped to [1, tau_0]), with F the mean training loss the
// workers reported in the last round and F_0 that of the first round. The server sends tau
// with every pull reply.
#include <fmt/format.h>

#include "policies/policy_factories.hpp"
#include "policies/sync_round_policy.hpp"

namespace synclab {

PolicyInstance make_adacomm(PolicyParams& params, int workers) {
  SyncRoundConfig c;
  c.name = "adacomm";
  c.payload = PayloadKind::ModelDelta;
  c.adaptive_tau = true;
  c.tau = static_cast<int>(params.integer("tau", 20, 1, 1'000'000));
  c.interval = static_cast<int>(params.integer("interval", 10, 1, 1'000'000));
  WorkerPolicy wp;
  wp.payload = PayloadKind::ModelDelta;
  wp.local_steps = c.tau;
  wp.adaptive = true;
  wp.local_lr = params.real("lr", 0.0, 0.0, 1e6);
  c.params = fmt::format("tau={}, interval={}, lr={}", c.tau, c.interval, wp.local_lr);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<SyncRoundPolicy>(c, workers, loss), wp};
}

}  // namespace synclab
