#include "sim/platform.hpp"

#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include <exception>
#include <filesystem>

#include "core/common/error.hpp"

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

void check_link(const std::string& key, const LinkSpec& link) {
  if (!(link.bandwidth > 0)) throw ConfigError(key + ".bandwidth", "must be positive");
  if (!(link.latency >= 0)) throw ConfigError(key + ".latency", "must not be negative");
}

// One host with its own split-duplex NIC: its sends use the UP half, its receives the DOWN
// half, so a push and a pull through the same NIC do not compete.
sg::Host* add_host(sg::NetZone* zone, const std::string& name, double speed, const LinkSpec& link, bool latency) {
  sg::Host* host = zone->create_host(name, speed);
  sg::SplitDuplexLink* l = zone->create_split_duplex_link(name + "-nic", link.bandwidth);
  l->set_latency(latency ? link.latency / 2.0 : 0.0);
  l->seal();
  std::vector<sg::LinkInRoute> route{sg::LinkInRoute(l, sg::LinkInRoute::Direction::UP)};
  zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr, route, true);
  host->seal();
  return host;
}

Platform from_xml(const RunConfig& config) {
  const std::string& file = config.cluster.platform;
  if (!std::filesystem::exists(file)) throw ConfigError("cluster.platform", file + ": no such file");
  try {
    sg::Engine::get_instance()->load_platform(file);
  } catch (const std::exception& e) {
    throw ConfigError("cluster.platform", file + ": " + e.what());
  }
  Platform p;
  auto* engine = sg::Engine::get_instance();
  auto find = [&](const std::string& name) {
    sg::Host* h = engine->host_by_name_or_null(name);
    if (!h) throw ConfigError("cluster.platform", file + ": no host named '" + name + "'");
    return h;
  };
  for (int w = 0; w < config.cluster.workers; ++w) p.workers.push_back(find(worker_host_name(w)));
  for (int s = 0; s < config.cluster.servers; ++s) p.servers.push_back(find(server_host_name(s)));
  return p;
}

}  // namespace

std::string worker_host_name(int w) { return "worker-" + std::to_string(w); }
std::string server_host_name(int s) { return "server-" + std::to_string(s); }

double worker_speed(const RunConfig& config, int w) {
  const auto& c = config.cluster;
  const double factor = c.speeds.empty() ? 1.0 : c.speeds.at(static_cast<std::size_t>(w));
  return c.gpu.flops * c.gpu.efficiency * factor;
}

Platform build_platform(const RunConfig& config, bool latency_in_links) {
  const auto& c = config.cluster;
  if (c.workers < 1) throw ConfigError("cluster.workers", "must be at least 1");
  if (c.servers < 1) throw ConfigError("cluster.servers", "must be at least 1");
  if (!c.speeds.empty() && c.speeds.size() != static_cast<std::size_t>(c.workers))
    throw ConfigError("cluster.speeds", "has " + std::to_string(c.speeds.size()) + " entries for " +
                                            std::to_string(c.workers) + " workers");
  for (double s : c.speeds)
    if (!(s > 0)) throw ConfigError("cluster.speeds", "speed factors must be positive");
  if (c.colocated_cores < 0) throw ConfigError("cluster.colocated_cores", "must be 0 or a number of cores");
  if (!c.platform.empty()) {
    if (c.colocated_cores > 0)
      throw ConfigError("cluster.colocated_cores", "needs the built platform: give the machine's cores in cluster.platform's hosts instead");
    return from_xml(config);
  }
  if (!(c.gpu.flops > 0)) throw ConfigError("cluster.gpu.flops", "must be positive");
  if (!(c.gpu.efficiency > 0)) throw ConfigError("cluster.gpu.efficiency", "must be positive");
  check_link("cluster.link", c.link);
  const LinkSpec ps_link = c.ps_link.value_or(c.link);
  check_link("cluster.ps_link", ps_link);

  sg::NetZone* zone = sg::create_star_zone("cluster");
  Platform p;
  for (int s = 0; s < c.servers; ++s)
    p.servers.push_back(add_host(zone, server_host_name(s), c.gpu.flops * c.gpu.efficiency, ps_link, latency_in_links));
  for (int w = 0; w < c.workers; ++w)
    p.workers.push_back(add_host(zone, worker_host_name(w), worker_speed(config, w), c.link, latency_in_links));
  // No links: nothing is sent to them; the hosts' software runs on these cores (sim/machine_cpu.hpp).
  for (int i = 0; i < c.colocated_cores; ++i) p.cores.push_back(zone->create_host("core-" + std::to_string(i), 1.0)->seal());
  zone->seal();
  if (!latency_in_links) p.transfer_latency = (c.link.latency + ps_link.latency) / 2.0;
  return p;
}

}  // namespace synclab::sim
