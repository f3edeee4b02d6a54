#pragma once
// The general network model: every transfer is a SimGrid communication, and SimGrid's
// max-min solver shares the bandwidth of every link on the platform among the flows
// crossing it (re-solved at every transfer start and end). Worker NICs are links of the
// platform: SimGrid 3.32 ignores Comm::set_rate on host-to-host communications (the rate
// stays in the s4u object and never reaches the kernel's CommImpl), so a NIC cannot be
// modelled as a per-transfer cap here.
#include <map>
#include <utility>

#include "sim/network_model.hpp"

namespace synclab::sim {

class SimgridNetwork final : public NetworkModel {
 public:
  std::string describe() const override;
  TransferPtr start(simgrid::s4u::Host* from, simgrid::s4u::Host* to, std::uint64_t bytes) override;
  std::size_t wait_any(const std::vector<TransferPtr>& transfers) override;

 private:
  /// The route's latency from one host to another, looked up once per pair.
  double latency(simgrid::s4u::Host* from, simgrid::s4u::Host* to);
  std::map<std::pair<const simgrid::s4u::Host*, const simgrid::s4u::Host*>, double> latency_;
};

}  // namespace synclab::sim
