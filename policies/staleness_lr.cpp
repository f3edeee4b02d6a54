// staleness-lr: staleness-aware asynchronous SGD (Zhang, Gupta, Lian & Liu, IJCAI 2016).
// async (or ssp when `staleness` is given) whose learning rate for a gradient of staleness
// tau is lr / max(1, tau). Same as `rule: staleness-lr` on async or ssp.
#include <fmt/format.h>

#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_staleness_lr(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "staleness-lr";
  if (params.has("staleness")) {
    c.staleness = static_cast<std::uint64_t>(params.integer("staleness", 0, 0, 1'000'000'000));
    c.params = fmt::format("staleness={}", *c.staleness);
  } else {
    params.integer("staleness", 0, 0, 1'000'000'000);
  }
  c.rule = RuleConfig::read(params, GradientRule::StalenessLr);
  if (c.rule.rule != GradientRule::StalenessLr) throw ConfigError("policy.rule", "staleness-lr implies rule staleness-lr");
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
