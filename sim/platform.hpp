#pragma once
// The simulated cluster: one host per worker and per parameter-server shard, built from the
// run config (a star: every host has its own full-duplex NIC to a non-blocking switch) or
// read from a SimGrid XML platform file that names its hosts the same way.
#include <string>
#include <vector>

#include "core/config/run_config.hpp"

namespace simgrid::s4u {
class Host;
}

namespace synclab::sim {

/// Hosts of a simulated run, in rank order.
struct Platform {
  std::vector<simgrid::s4u::Host*> workers;  ///< "worker-0" .. "worker-(W-1)"
  std::vector<simgrid::s4u::Host*> servers;  ///< "server-0" .. "server-(S-1)"
  /// Seconds each worker <-> server transfer waits before it starts moving bytes, when the
  /// latency is kept out of the links (see build_platform); 0 when the links carry it.
  double transfer_latency = 0;
  /// With cluster.colocated_cores > 0: the cores of the one machine every host runs on
  /// ("core-0" .., speed 1 flop/s so that a flop is a second of one core's work); else empty.
  std::vector<simgrid::s4u::Host*> cores;
};

/// Host name of worker w / shard s, in built platforms and required in XML platforms.
std::string worker_host_name(int w);
std::string server_host_name(int s);

/// Effective flop/s of worker w: gpu.flops x gpu.efficiency x speeds[w] (1 when unset).
double worker_speed(const RunConfig& config, int w);

/// Builds the star platform of `config` (or loads cluster.platform when set) into the
/// current SimGrid engine. Link latency is host-to-host: each NIC carries half of it, so an
/// uncontended transfer between two hosts takes M/B + L. Throws ConfigError naming the key
/// (or the XML file and missing host).
/// latency_in_links false (star platforms only): links get zero latency and the route's
/// latency is returned in transfer_latency for the driver to wait before each transfer.
/// Same times (the exact model shares no bandwidth during a latency phase either), one
/// bandwidth re-sharing fewer per transfer.
Platform build_platform(const RunConfig& config, bool latency_in_links = true);

}  // namespace synclab::sim
