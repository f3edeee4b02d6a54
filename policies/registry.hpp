#pragma once
// Policies by name. Each policy lives in its own file and is registered with one line in
// policies/policy_list.inc; drivers only ever call make_policy.
#include <memory>
#include <string>
#include <vector>

#include "core/config/policy_spec.hpp"
#include "policies/server_policy.hpp"
#include "policies/worker_policy.hpp"

namespace synclab {

/// Both halves of one configured policy.
struct PolicyInstance {
  std::unique_ptr<ServerPolicy> server;
  WorkerPolicy worker;
};

/// Name, one-line rule and accepted parameters of a registered policy (for --help and docs).
struct PolicyInfo {
  std::string name;
  std::string description;
  std::vector<std::string> params;  ///< "staleness", "k", ...
};

/// Builds the policy `spec.name` for `workers` workers (the total, backups included).
/// Throws ConfigError("policy.name", ...) for an unknown name (listing the known ones) and
/// ConfigError("policy.<key>", ...) for an unknown, malformed or out-of-range parameter.
PolicyInstance make_policy(const PolicySpec& spec, int workers);

/// Same checks as make_policy without keeping the result (config validation).
void validate_policy(const PolicySpec& spec, int workers);

/// Every registered policy, in registration order.
const std::vector<PolicyInfo>& policy_list();

}  // namespace synclab
