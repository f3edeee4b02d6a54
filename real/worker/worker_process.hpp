#pragma once
// One worker process (`synclab worker`): connects to every PS shard, runs the policy's
// WorkerCore over TCP, reconnects with bounded backoff when a shard restarts, and reports
// its compute / wait / communicate seconds to shard 0 when the job stops.
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/net/connection.hpp"

namespace synclab::real {

struct WorkerOptions {
  RunConfig config;
  int worker = 0;                  ///< worker id in [0, cluster.workers)
  std::vector<Endpoint> ps;        ///< every PS shard, in shard order
  std::string token;               ///< shared job token
  std::string device = "auto";     ///< worker.device or --device
  double reconnect_timeout = 30;   ///< seconds of failed (re)connect attempts before giving up
  ConnectionLimits limits;         ///< frame / idle timeouts
};

/// Runs until the servers stop the job; returns the exit code. Throws Error with one line
/// naming the shard when refused (wrong token, version or model) or unreachable.
int run_worker(const WorkerOptions& options);

}  // namespace synclab::real
