// kbatch-async: K-batch-async SGD (Dutta et al., AISTATS 2018). The server applies the mean
// of the first K mini-batch gradients to arrive, from any workers and versions; workers
// never wait: after each push they pull the current params and go on.
#include <fmt/format.h>

#include "policies/async_policy.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

PolicyInstance make_kbatch_async(PolicyParams& params, int workers) {
  AsyncConfig c;
  c.name = "kbatch-async";
  c.k = static_cast<int>(params.integer("k", workers, 1, 1'000'000));
  c.params = fmt::format("k={}", c.k);
  c.rule = RuleConfig::read(params, GradientRule::Plain);
  const LossHandling loss = LossHandling::read(params);
  params.finish();
  return {std::make_unique<AsyncPolicy>(c, workers, loss), WorkerPolicy{}};
}

}  // namespace synclab
