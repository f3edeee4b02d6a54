#pragma once
// One factory per policy file; registry.cpp lists them. A factory reads (and range-checks)
// its parameters from `params` and builds both halves for `workers` workers.
#include "core/common/error.hpp"
#include "policies/policy_params.hpp"
#include "policies/registry.hpp"

namespace synclab {

using PolicyFactory = PolicyInstance (*)(PolicyParams& params, int workers);

PolicyInstance make_bsp(PolicyParams& params, int workers);
PolicyInstance make_async(PolicyParams& params, int workers);
PolicyInstance make_ssp(PolicyParams& params, int workers);
PolicyInstance make_backup(PolicyParams& params, int workers);
PolicyInstance make_ksync(PolicyParams& params, int workers);
PolicyInstance make_kbatch_sync(PolicyParams& params, int workers);
PolicyInstance make_kasync(PolicyParams& params, int workers);
PolicyInstance make_kbatch_async(PolicyParams& params, int workers);
PolicyInstance make_local_sgd(PolicyParams& params, int workers);
PolicyInstance make_adacomm(PolicyParams& params, int workers);
PolicyInstance make_staleness_lr(PolicyParams& params, int workers);
PolicyInstance make_dc_asgd(PolicyParams& params, int workers);

}  // namespace synclab
