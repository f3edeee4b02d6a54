#include "sim/network_model.hpp"

#include <exception>

#include <simgrid/s4u/Engine.hpp>
#include <xbt/log.h>

#include "core/common/error.hpp"
#include "sim/platform.hpp"
#include "sim/simgrid_network.hpp"
#include "sim/star_network.hpp"

namespace synclab::sim {

std::vector<std::string> exact_network_settings() {
  // CM02 is the plain max-min fluid model: bandwidth factor 1 and latency factor 1.
  // Cross-traffic off: a push does not also load the reverse direction with ACKs.
  // TCP-gamma 0: no window cap of gamma / (2 latency), which would bite on fast links.
  return {"network/model:CM02", "network/crosstraffic:0", "network/TCP-gamma:0"};
}

void configure_contexts() {
#if defined(__SANITIZE_ADDRESS__)
  // Debian's SimGrid is built without ASan's fiber hooks, so its raw/ucontext/boost
  // context switches hide each actor's stack from ASan: it ignores __asan_handle_no_return
  // and reports stack-use-after-return in frames of other actors. One OS thread per actor
  // keeps every stack known to ASan; actors still run one at a time, same results, slower.
  xbt_log_control_set("xbt_cfg.thresh:warning");
  simgrid::s4u::Engine::set_config("contexts/factory:thread");
#endif
}

void configure_engine(const std::vector<std::string>& user_settings) {
  // Every set_config prints an INFO line; a run's output should be ours alone.
  xbt_log_control_set("xbt_cfg.thresh:warning");
  // Transfers still in flight when a run stops are dropped on purpose; do not report them.
  xbt_log_control_set("s4u_comm.thresh:warning");
  std::vector<std::string> all = exact_network_settings();
  all.insert(all.end(), user_settings.begin(), user_settings.end());
  for (const auto& setting : all) {
    if (setting.find(':') == std::string::npos)
      throw ConfigError("--cfg", "'" + setting + "' is not of the form key:value");
    try {
      simgrid::s4u::Engine::set_config(setting);
    } catch (const std::exception& e) {
      // SimGrid appends the list of every known key; keep the first sentence only.
      std::string why = e.what();
      why = why.substr(0, why.find(" Existing config keys"));
      why = why.substr(0, why.find('\n'));
      throw ConfigError("--cfg", "SimGrid rejected '" + setting + "': " + why);
    }
  }
}

NetworkChoice choose_network(const RunConfig& config, const std::vector<std::string>& simgrid_settings) {
  const std::string& asked = config.sim.network;
  if (asked != "auto" && asked != "star" && asked != "simgrid" && asked != "packet")
    throw ConfigError("sim.network", "unknown '" + asked + "' (auto | star | simgrid | packet)");
  if (asked == "simgrid") return {"simgrid", "sim.network: simgrid"};
  // The star model is exact only where its one shared link per direction is the whole
  // story: the built star (routes of an XML file may share anything), one shard (with
  // several, a worker's NIC carries one transfer per shard at once and is shared), and
  // SimGrid's exact max-min model (another network/model shares bandwidth differently).
  // The packet model rests on the same star, and a network/ setting would have no effect.
  std::string why_not;
  if (!config.cluster.platform.empty()) why_not = "cluster.platform is set (routes of a platform file)";
  else if (config.cluster.servers != 1) why_not = "cluster.servers is " + std::to_string(config.cluster.servers) + ", not 1";
  for (const auto& s : simgrid_settings)
    if (why_not.empty() && s.rfind("network/", 0) == 0) why_not = "--cfg " + s + " changes SimGrid's network model";
  if (asked == "packet") {
    if (!why_not.empty()) throw ConfigError("sim.network", "packet needs the built star with one shard, but " + why_not);
    return {"packet", "sim.network: packet, one shard on the built star"};
  }
  if (why_not.empty()) return {"star", "sim.network: " + asked + ", one shard on the built star"};
  if (asked == "star") throw ConfigError("sim.network", "star needs the built star with one shard, but " + why_not);
  return {"simgrid", "sim.network: auto, " + why_not};
}

PacketLinkSpec packet_link_spec(const RunConfig& config) {
  const auto& sim = config.sim;
  const auto& ps_link = config.cluster.ps_link.value_or(config.cluster.link);
  return PacketLinkSpec{.rate = ps_link.bandwidth, .flow_cap = config.cluster.link.bandwidth,
                        .segment = sim.packet_segment, .window = sim.packet_window,
                        .windows = sim.packet_windows, .seed = 2 * config.train.seed + 1,
                        .acks_queued = sim.packet_acks_queued, .bbr = sim.packet_bbr,
                        // The handshake's round trip: the kernel's where calibrate read it, else
                        // both NICs' latency, there and back (which carries the processes' wake-ups).
                        .base_rtt = sim.packet_rtt > 0 ? sim.packet_rtt : config.cluster.link.latency + ps_link.latency,
                        .gso_max_size = sim.packet_gso,
                        .small_queues = sim.packet_small_queues,
                        .burst = sim.packet_burst,
                        .first_reads = sim.packet_first_reads};
}

std::unique_ptr<NetworkModel> make_network_model(const NetworkChoice& choice, const RunConfig& config,
                                                 const Platform& platform) {
  if (choice.model == "star" || choice.model == "packet") {
    // The star solvers compute the shares themselves: they read the NIC bandwidths of the
    // config, and SimGrid's links carry nothing.
    if (platform.servers.size() != 1) throw Error(choice.model + " network: needs exactly one shard");
    const double ps_bandwidth = config.cluster.ps_link.value_or(config.cluster.link).bandwidth;
    if (choice.model == "star") return make_fluid_star(platform.servers[0], ps_bandwidth, config.cluster.link.bandwidth);
    return make_packet_star(platform.servers[0], packet_link_spec(config));
  }
  return std::make_unique<SimgridNetwork>();
}

}  // namespace synclab::sim
