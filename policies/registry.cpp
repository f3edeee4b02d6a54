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

// One line per policy. Every policy also accepts `timeout` and `on_worker_lost`.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> list = {
      {{"bsp", "fully synchronous: mean of one gradient per worker per update", {}}, make_bsp},
      {{"async", "apply every gradient on arrival", {"rule", "lambda"}}, make_async},
      {{"ssp", "async with a clock bound: no worker more than `staleness` pushes ahead of the slowest", {"staleness", "rule", "lambda"}}, make_ssp},
      {{"backup", "sync over the first N of N+backup workers; late gradients dropped", {"backup"}}, make_backup},
      {{"ksync", "sync over the first k gradients of a version; stragglers cancelled", {"k"}}, make_ksync},
      {{"kbatch-sync", "sync over the first k mini-batches of a version, from any workers", {"k"}}, make_kbatch_sync},
      {{"kasync", "apply the mean of the first k gradients of any version; those k workers wait", {"k", "rule", "lambda"}}, make_kasync},
      {{"kbatch-async", "apply the mean of every k mini-batches of any version; nobody waits", {"k", "rule", "lambda"}}, make_kbatch_async},
      {{"local-sgd", "tau local SGD steps per worker, then synchronous model averaging", {"tau", "lr"}}, make_local_sgd},
      {{"adacomm", "local-sgd with tau = ceil(sqrt(loss / first loss) * tau0), adapted every interval rounds", {"tau", "interval", "lr"}}, make_adacomm},
      {{"staleness-lr", "async (ssp with staleness) with lr divided by each gradient's staleness", {"staleness"}}, make_staleness_lr},
      {{"dc-asgd", "async (ssp with staleness) with delay-compensated gradients", {"lambda", "staleness"}}, make_dc_asgd},
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
