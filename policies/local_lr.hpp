#pragma once
// The learning rate of a worker's local SGD steps (local-sgd, adacomm: model-delta policies)
// and the one-line warning when it falls back to an adaptive optimizer's rate.
#include <optional>
#include <string>

#include "core/optim/optimizer.hpp"
#include "policies/worker_policy.hpp"

namespace synclab {

/// The lr local steps use: policy.lr when set, else train.optimizer.lr.
double local_step_lr(const WorkerPolicy& policy, const OptimizerSpec& optimizer);

/// Set for a model-delta policy without policy.lr under an adaptive server optimizer (adam):
/// its lr is sized for normalised steps and is far too small for plain SGD. Names the keys.
std::optional<std::string> local_lr_warning(const std::string& policy_name, const WorkerPolicy& policy,
                                            const OptimizerSpec& optimizer);

}  // namespace synclab
