// kasync: K-async SGD (Dutta et al., AISTATS 2018). The server applies the mean of the first
// K gradients to arrive, whatever versions they were computed on; only the workers whose
// gradients were applied get new params, the others keep computing on what they have.
#include <fmt/format.h>

#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_kasync(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "kasync";
  c.k = static_cast<int>(params.integer("k", (workers + 1) / 2, 1, workers));
  c.params = fmt::format("k={}", c.k);
  c.hold_until_applied = true;
  c.rule = RuleConfig::read(params, GradientRule::Plain);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
