#pragma once
// Where the roles of a real job run: PS shard endpoints and worker hosts, from the
// TensorFlow-style flags, a hosts list, or a Slurm allocation (role by rank).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace synclab::real {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;  ///< "host:port"
};

/// "host:port" -> Endpoint; throws ConfigError(key, ...) on a missing or bad port.
Endpoint parse_endpoint(const std::string& key, const std::string& text);
/// Comma-separated "h1:p1,h2:p2" -> endpoints (empty text -> empty list).
std::vector<Endpoint> parse_endpoints(const std::string& key, const std::string& text);

/// This process's role in a job.
struct RoleAssignment {
  std::string job;          ///< "ps" | "worker"
  int index = 0;            ///< shard index or worker id
  std::vector<Endpoint> ps; ///< every PS shard, in shard order
  int workers = 0;          ///< W
};

/// Expands a Slurm node list ("n[01-03,7],gpu5") into host names in order.
std::vector<std::string> expand_nodelist(const std::string& list);
/// Expands SLURM_TASKS_PER_NODE ("2(x3),1") into a count per node.
std::vector<int> expand_tasks_per_node(const std::string& text);

/// Role from a Slurm environment: ranks [0, servers) are PS shards on port base_port+rank,
/// the rest are workers. env maps variable names to values (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_JOB_NODELIST, SLURM_TASKS_PER_NODE). nullopt when SLURM_PROCID is absent.
std::optional<RoleAssignment> role_from_slurm(const std::map<std::string, std::string>& env, int servers, std::uint16_t base_port);

/// The environment variables role_from_slurm reads, from this process's environment.
std::map<std::string, std::string> slurm_environment();

}  // namespace synclab::real
