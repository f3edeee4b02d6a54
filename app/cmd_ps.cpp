// synclab ps: one parameter-server shard of a real run.
#include <iostream>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/run_args.hpp"
#include "core/common/error.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/launch/job_options.hpp"
#include "real/ps/ps_server.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_ps(int argc, char** argv) {
  int shard = -1;
  std::string bind, port_file, ps_hosts, worker_hosts, job_name, peers;
  int port = -1;
  bool fresh = false;
  po::options_description extra("parameter-server options");
  extra.add_options()
      ("shard", po::value<int>(&shard), "this shard's index (default 0; alias --task_index)")
      ("task_index", po::value<int>(&shard), "TensorFlow-style alias of --shard")
      ("job_name", po::value<std::string>(&job_name), "TensorFlow-style role; must be 'ps' here")
      ("ps_hosts", po::value<std::string>(&ps_hosts), "TensorFlow-style h:p,h:p list of every shard (sets the shard count and this shard's port)")
      ("worker_hosts", po::value<std::string>(&worker_hosts), "TensorFlow-style h:p list of workers (sets cluster.workers)")
      ("port", po::value<int>(&port), "TCP port (default real.port; 0 = any free port)")
      ("bind", po::value<std::string>(&bind), "listen address or host name (default: this shard's --ps_hosts entry, else 0.0.0.0)")
      ("port-file", po::value<std::string>(&port_file), "write the bound port here once listening")
      ("peers", po::value<std::string>(&peers), "shard 0 with several shards: h:p of shards 1..n-1 (default: from --ps_hosts), for evaluations")
      ("fresh", po::bool_switch(&fresh), "start at version 0 when checkpoint files exist but none is valid (they are renamed *.rejected)");
  auto args = parse_run_args(argc, argv, "ps",
                             "Serves one shard of the parameters of a real run over TCP. The job token comes from\n"
                             "real.token or $SYNCLAB_TOKEN. Shard 0 writes the run directory (--out).",
                             extra);
  if (args.help) return 0;
  if (!job_name.empty() && job_name != "ps") throw ConfigError("--job_name", "'" + job_name + "' given to synclab ps (expected ps)");
  auto overrides = args.overrides;
  std::vector<real::Endpoint> ps;
  if (!ps_hosts.empty()) {
    ps = real::parse_endpoints("--ps_hosts", ps_hosts);
    overrides.push_back("cluster.servers=" + std::to_string(ps.size()));
  }
  if (!worker_hosts.empty()) overrides.push_back("cluster.workers=" + std::to_string(real::parse_endpoints("--worker_hosts", worker_hosts).size()));
  real::PsOptions o;
  o.config = load_run_config(args.config, overrides);
  o.shard = shard < 0 ? 0 : shard;
  o.shards = o.config.cluster.servers;
  if (o.shard >= o.shards) throw ConfigError("--shard", std::to_string(o.shard) + " not below cluster.servers " + std::to_string(o.shards));
  // Listening on the address the workers are told about, not on every interface, keeps the
  // port off networks the job does not use.
  if (!bind.empty()) {
    o.bind = real::listen_address("--bind", bind);
    if (o.bind.empty()) throw ConfigError("--bind", "'" + bind + "' resolves only to loopback addresses here; give an IP address");
  } else if (!ps.empty()) {
    o.bind = real::ps_listen_address("--ps_hosts", ps[static_cast<std::size_t>(o.shard)].host);
  } else {
    o.bind = "0.0.0.0";
    spdlog::warn("ps: listening on every interface (0.0.0.0); pass --bind or --ps_hosts to listen on one address, and firewall the port");
  }
  o.port = static_cast<std::uint16_t>(port >= 0 ? port : (!ps.empty() ? ps[static_cast<std::size_t>(o.shard)].port : o.config.real.port));
  o.port_file = port_file;
  if (!peers.empty()) {
    o.peers = real::parse_endpoints("--peers", peers);
  } else if (ps.size() > 1) {
    for (std::size_t i = 0; i < ps.size(); ++i)
      if (static_cast<int>(i) != o.shard) o.peers.push_back(ps[i]);
  }
  o.token = real::job_token(o.config);
  o.run_dir = args.out.empty() ? default_run_dir(args.config) : std::filesystem::path(args.out);
  o.checkpoint_dir = o.config.real.checkpoint_dir.empty() ? (o.config.real.checkpoint_every || o.config.real.checkpoint_interval > 0 ? o.run_dir / "checkpoints" : std::filesystem::path())
                                                          : std::filesystem::path(o.config.real.checkpoint_dir);
  o.checkpoint_every = o.config.real.checkpoint_every;
  o.checkpoint_seconds = o.config.real.checkpoint_interval;
  o.fresh = fresh;
  o.lost_grace = o.config.real.timeout;
  o.limits = real::connection_limits(o.config);
  return real::run_ps(o);
}

}  // namespace synclab::app
