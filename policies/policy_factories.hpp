#pragma once
// One factory per policy file, declared from policies/policy_list.inc. A factory reads (and range-checks)
// its parameters from `params` and builds both halves for `workers` workers.
#include "core/common/error.hpp"
#include "policies/policy_params.hpp"
#include "policies/registry.hpp"

namespace synclab {

using PolicyFactory = PolicyInstance (*)(PolicyParams& params, int workers);

#define SYNCLAB_POLICY(factory, name, rule, ...) PolicyInstance factory(PolicyParams& params, int workers);
#include "policies/policy_list.inc"
#undef SYNCLAB_POLICY

}  // namespace synclab
