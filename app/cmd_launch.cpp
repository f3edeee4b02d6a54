// synclab launch: one whole real run (PS shards + workers), local processes by default.
#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/run_args.hpp"
#include "real/launch/launcher.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_launch(int argc, char** argv) {
  double timeout = 0;
  bool no_slurm = false, fresh = false;
  po::options_description extra("launch options");
  extra.add_options()
      ("timeout", po::value<double>(&timeout), "seconds for the whole job before everything is killed (default: from the stop condition)")
      ("no-slurm", po::bool_switch(&no_slurm), "ignore SLURM_* and torchrun-style (RANK, WORLD_SIZE) variables; launch local processes")
      ("fresh", po::bool_switch(&fresh), "PS shards start at version 0 when checkpoint files exist but none is valid (renamed *.rejected)");
  auto args = parse_run_args(argc, argv, "launch",
                             "Runs one real job: PS shard(s) and cluster.workers workers as local processes over\n"
                             "loopback (free ports, generated token); with real.hosts over ssh on those hosts; under\n"
                             "Slurm (srun synclab launch ...) or with torchrun-style RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT each\n"
                             "process takes the role of its rank (ranks < cluster.servers are PS shards).",
                             extra);
  if (args.help) return 0;
  real::LaunchOptions o;
  o.config_path = args.config;
  o.overrides = args.overrides;
  o.run_dir = args.out.empty() ? default_run_dir(args.config) : std::filesystem::path(args.out);
  o.timeout = timeout;
  o.allow_slurm = !no_slurm;
  o.fresh = fresh;
  return real::launch(o);
}

}  // namespace synclab::app
