// ssp: stale synchronous parallel (Ho et al., NIPS 2013). Gradients are applied on arrival;
// a worker that has pushed c times gets params only once every counted worker has pushed
// at least c - staleness times. staleness 0 synchronizes every step (without bsp's
// averaging); a huge staleness behaves like async.
#include <fmt/format.h>

#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_ssp(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "ssp";
  c.staleness = static_cast<std::uint64_t>(params.integer("staleness", 3, 0, 1'000'000'000));
  c.params = fmt::format("staleness={}", *c.staleness);
  c.rule = RuleConfig::read(params, GradientRule::Plain);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
