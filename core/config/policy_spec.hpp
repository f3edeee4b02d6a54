#pragma once
// The policy section of a run config as the policy registry reads it: a name and its raw
// parameters. Kept apart from run_config.hpp so policies do not depend on the YAML loader.
#include <map>
#include <string>

namespace synclab {

struct PolicySpec {
  std::string name = "bsp";
  /// Every key under policy: except name, as written (scalars as strings); the policy
  /// registry validates them and reports "policy.<key>: ...".
  std::map<std::string, std::string> params;
};

}  // namespace synclab
