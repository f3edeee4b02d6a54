// async: asynchronous SGD (Hogwild-style parameter server, Dean et al. 2012). Every gradient
// is applied on arrival as its own update; pulls are answered at once.
#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_async(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "async";
  c.rule = RuleConfig::read(params, GradientRule::Plain);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
