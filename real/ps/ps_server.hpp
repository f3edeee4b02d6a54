#pragma once
// One parameter-server shard process (`synclab ps`): serves its range of the flat
// parameter buffer over TCP to the job's workers, driving the policy's server side.
// Shard 0 also writes the run directory (updates, evaluations, summary).
#include <cstdint>
#include <filesystem>
#include <string>

#include "core/config/run_config.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/net/connection.hpp"

namespace synclab::real {

struct PsOptions {
  RunConfig config;
  int shard = 0;                           ///< this shard's index
  int shards = 1;                          ///< number of shards (cluster.servers)
  std::string bind = "0.0.0.0";            ///< listen address
  std::uint16_t port = 0;                  ///< 0: any free port (see port_file)
  std::filesystem::path port_file;         ///< when set: the bound port is written here once listening
  std::string token;                       ///< shared job token (required, non-empty)
  std::filesystem::path run_dir;           ///< shard 0: the run directory; others: where shard files go
  std::filesystem::path checkpoint_dir;    ///< empty: no checkpoints, no resume
  std::uint64_t checkpoint_every = 0;      ///< updates between checkpoints (0: off)
  double checkpoint_seconds = 0;           ///< seconds between checkpoints (0: off)
  bool fresh = false;                      ///< start at version 0 even when every checkpoint is rejected (renamed *.rejected)
  double lost_grace = 30;                  ///< seconds with no worker connected (from the start, or after the last left) before the job fails
  double final_wait = 10;                  ///< seconds to wait for workers' reports after stop
  ConnectionLimits limits;                 ///< frame / idle timeouts (max_param_payload is set here)
  std::vector<Endpoint> peers;             ///< shard 0: shards 1..n-1 in order (for evaluations); else unused
};

/// Runs the shard until the job stops; returns the process exit code (0: stopped by the
/// config's stop condition; 3: the job failed, summary written). Throws Error for bad
/// options (port in use, bad checkpoint dir) and when checkpoint files exist but none is
/// valid (naming them) unless options.fresh.
int run_ps(const PsOptions& options);

}  // namespace synclab::real
