#pragma once
// Reads and validates the parameters under `policy:`; every error is a ConfigError naming
// "policy.<key>". Each getter marks its key as known; finish() rejects the rest.
#include <set>
#include <string>
#include <vector>

#include "core/config/policy_spec.hpp"

namespace synclab {

class PolicyParams {
 public:
  explicit PolicyParams(const PolicySpec& spec) : spec_(spec) {}
  /// Integer in [lo, hi]; `def` when absent.
  long long integer(const std::string& key, long long def, long long lo, long long hi);
  /// Finite real in [lo, hi]; `def` when absent.
  double real(const std::string& key, double def, double lo, double hi);
  /// Seconds (units such as "500ms" accepted) in [0, inf); `def` when absent.
  double seconds(const std::string& key, double def);
  /// One of `choices`; `def` when absent.
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& choices);
  /// True when the key was given.
  bool has(const std::string& key) const { return spec_.params.count(key) != 0; }
  /// Throws ConfigError("policy.<key>", "unknown parameter of <name>; known: ...") for any unread key.
  void finish() const;
  const std::string& name() const { return spec_.name; }

 private:
  const PolicySpec& spec_;
  std::set<std::string> known_;
};

}  // namespace synclab
