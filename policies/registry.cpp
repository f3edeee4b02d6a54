#include "policies/registry.hpp"

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "policies/policy_factories.hpp"

namespace synclab {

namespace {

struct Entry {
  PolicyInfo info;
  PolicyFactory make;
};

// From policies/policy_list.inc, one line per policy.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
#define SYNCLAB_POLICY(factory, name, rule, ...) {{name, rule, __VA_ARGS__}, factory},
#include "policies/policy_list.inc"
#undef SYNCLAB_POLICY
  };
  return list;
}

const Entry& find(const std::string& name) {
  for (const auto& e : entries())
    if (e.info.name == name) return e;
  std::string known;
  for (const auto& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  throw ConfigError("policy.name", fmt::format("unknown policy '{}' (known: {})", name, known));
}

}  // namespace

PolicyInstance make_policy(const PolicySpec& spec, int workers) {
  const Entry& e = find(spec.name);
  if (workers < 1) throw ConfigError("cluster.workers", fmt::format("policy {} needs at least one worker, got {}", spec.name, workers));
  PolicyParams params(spec);
  return e.make(params, workers);
}

void validate_policy(const PolicySpec& spec, int workers) { (void)make_policy(spec, workers); }

const std::vector<PolicyInfo>& policy_list() {
  static const std::vector<PolicyInfo> infos = [] {
    std::vector<PolicyInfo> v;
    for (const auto& e : entries()) {
      PolicyInfo info = e.info;
      info.params.push_back("timeout");
      info.params.push_back("on_worker_lost");
      v.push_back(std::move(info));
    }
    return v;
  }();
  return infos;
}

}  // namespace synclab
