#pragma once
// The role of one rank started by an outside launcher: Slurm (`srun synclab launch`) or a
// torchrun-style environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Ranks below
// cluster.servers are PS shards, the rest are workers.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "real/launch/cluster_spec.hpp"

namespace synclab::real {

/// This process's role in a job.
struct RoleAssignment {
  std::string launcher;     ///< "Slurm" | "torchrun": where the rank came from
  std::string job;          ///< "ps" | "worker"
  int index = 0;            ///< shard index or worker id
  std::vector<Endpoint> ps; ///< every PS shard, in shard order
  int workers = 0;          ///< W
};

/// Expands SLURM_TASKS_PER_NODE ("2(x3),1") into a count per node.
std::vector<int> expand_tasks_per_node(const std::string& text);

/// Role from Slurm variables: rank SLURM_PROCID of SLURM_STEP_NUM_TASKS (else SLURM_NTASKS)
/// tasks laid out over SLURM_STEP_NODELIST (else SLURM_JOB_NODELIST) by
/// SLURM_STEP_TASKS_PER_NODE (else SLURM_TASKS_PER_NODE) and SLURM_DISTRIBUTION (block, the
/// default, or cyclic). Shard s listens on its node at base_port + s. nullopt without
/// SLURM_PROCID; ConfigError naming the variable when the rest does not add up.
std::optional<RoleAssignment> role_from_slurm(const std::map<std::string, std::string>& env, int servers, std::uint16_t base_port);

/// Role from RANK and WORLD_SIZE; every shard runs on MASTER_ADDR, shard s on port
/// (port ? port : MASTER_PORT) + s. nullopt without RANK and WORLD_SIZE.
std::optional<RoleAssignment> role_from_torchrun(const std::map<std::string, std::string>& env, int servers, std::uint16_t port);

/// torchrun-style variables first (they are per process, where an enclosing Slurm task's
/// may be per node), then Slurm; port = real.port (0 = MASTER_PORT, or 29500 under Slurm).
std::optional<RoleAssignment> role_from_environment(const std::map<std::string, std::string>& env, int servers, std::uint16_t port);

/// The variables the functions above read, from this process's environment.
std::map<std::string, std::string> launcher_environment();

}  // namespace synclab::real
