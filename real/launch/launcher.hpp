#pragma once
// `synclab launch`: runs a whole real job. Locally (default): PS shard(s) and W workers as
// child processes on loopback with free ports and a generated token. With real.hosts:
// the same roles over ssh on the listed hosts. Under Slurm (SLURM_PROCID set): this
// process takes the role of its rank. Results land in one run directory.
#include <filesystem>
#include <string>
#include <vector>

namespace synclab::real {

struct LaunchOptions {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set a.b=v, passed on to every role
  std::filesystem::path run_dir;
  double timeout = 0;                  ///< seconds for the whole job; 0 = derived from the stop condition
  bool allow_slurm = true;             ///< take the role from SLURM_* or RANK/WORLD_SIZE when present
  bool fresh = false;                  ///< PS shards may start at version 0 when every checkpoint is rejected
};

/// Runs the job to completion; returns 0 on success, 128 + signal when SIGINT/SIGTERM/SIGHUP
/// stopped it (every child is stopped first). On any failure every child is killed and the
/// reason (with the failing child's last log lines) is in the thrown Error. The run
/// directory is locked while the job runs: a second job there is refused, naming our pid.
int launch(const LaunchOptions& options);

}  // namespace synclab::real
