// synclab worker: one worker of a real run.
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/run_args.hpp"
#include "core/common/error.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/launch/job_options.hpp"
#include "real/worker/worker_process.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_worker(int argc, char** argv) {
  int index = -1;
  std::string ps_hosts, worker_hosts, job_name, device;
  po::options_description extra("worker options");
  extra.add_options()
      ("ps_hosts", po::value<std::string>(&ps_hosts), "h:p,h:p of every PS shard, in shard order (required)")
      ("task_index", po::value<int>(&index), "this worker's id in [0, cluster.workers)")
      ("worker", po::value<int>(&index), "alias of --task_index")
      ("worker_hosts", po::value<std::string>(&worker_hosts), "TensorFlow-style h:p list of workers (sets cluster.workers)")
      ("job_name", po::value<std::string>(&job_name), "TensorFlow-style role; must be 'worker' here")
      ("device", po::value<std::string>(&device), "auto | cpu | cuda | cuda:N (default worker.device)");
  auto args = parse_run_args(argc, argv, "worker",
                             "Trains as one worker of a real run, talking to every PS shard over TCP. The job token\n"
                             "comes from real.token or $SYNCLAB_TOKEN.",
                             extra);
  if (args.help) return 0;
  if (!job_name.empty() && job_name != "worker") throw ConfigError("--job_name", "'" + job_name + "' given to synclab worker (expected worker)");
  if (ps_hosts.empty()) throw ConfigError("--ps_hosts", "required (h:p of every PS shard)");
  auto overrides = args.overrides;
  real::WorkerOptions o;
  o.ps = real::parse_endpoints("--ps_hosts", ps_hosts);
  overrides.push_back("cluster.servers=" + std::to_string(o.ps.size()));
  if (!worker_hosts.empty()) overrides.push_back("cluster.workers=" + std::to_string(real::parse_endpoints("--worker_hosts", worker_hosts).size()));
  o.config = load_run_config(args.config, overrides);
  o.worker = index < 0 ? 0 : index;
  o.token = real::job_token(o.config);
  o.device = device.empty() ? o.config.worker.device : device;
  o.reconnect_timeout = o.config.real.timeout;
  o.limits = real::connection_limits(o.config);
  return real::run_worker(o);
}

}  // namespace synclab::app
