// dc-asgd: delay-compensated asynchronous SGD (Zheng et al., ICML 2017), constant-lambda
// variant. A gradient g computed on w_bak is applied at w as g + lambda * g*g*(w - w_bak).
// async, or ssp when `staleness` is given. Same as `rule: dc-asgd` on async or ssp.
#include <fmt/format.h>

#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_dc_asgd(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "dc-asgd";
  if (params.has("staleness")) {
    c.staleness = static_cast<std::uint64_t>(params.integer("staleness", 0, 0, 1'000'000'000));
    c.params = fmt::format("staleness={}", *c.staleness);
  } else {
    params.integer("staleness", 0, 0, 1'000'000'000);
  }
  c.rule = RuleConfig::read(params, GradientRule::DcAsgd);
  if (c.rule.rule != GradientRule::DcAsgd) throw ConfigError("policy.rule", "dc-asgd implies rule dc-asgd");
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
