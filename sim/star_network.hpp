#pragma once
// The built star with one parameter-server shard: every worker's NIC carries one transfer
// at a time, so it only caps that transfer's rate, and the one shared resource per
// direction is the shard's NIC (a SharedLink, both directions). With FairShareLink per
// direction (make_fluid_star), max-min fair sharing of it is min(worker NIC, shard NIC / n)
// per flow: the same times as SimGrid's solver, at O(log n) per transfer start or end
// instead of a re-solve over all n flows. With PacketLink (make_packet_star), the shard's
// NIC is two FIFO queues of packets, each carrying the other's ACKs.
//
// A daemon actor on the shard's host completes transfers: it sleeps until the next
// completion, and is woken whenever a start or a cancel changes the shares.
#include <simgrid/forward.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/network_model.hpp"
#include "sim/packet_link.hpp"
#include "sim/shared_link.hpp"

namespace synclab::sim {

class StarNetwork final : public NetworkModel {
 public:
  /// server: the shard's host (one end of every transfer); link: its NIC (pushes into it,
  /// replies out of it); description: what describe() says. Creates the daemon actor (the
  /// engine must exist and not be running yet).
  StarNetwork(simgrid::s4u::Host* server, std::unique_ptr<SharedLink> link, std::string description);
  ~StarNetwork() override;
  std::string describe() const override;
  TransferPtr start(simgrid::s4u::Host* from, simgrid::s4u::Host* to, std::uint64_t bytes) override;
  std::size_t wait_any(const std::vector<TransferPtr>& transfers) override;
  bool trace_to(LinkTrace* trace) override;

  class Flow;  // a transfer of this model

 private:
  friend class Flow;
  void serve();
  void poke();
  void cancel(Flow& flow);
  void finish(const std::vector<SharedLink::FlowId>& ids);

  simgrid::s4u::Host* server_;
  std::unique_ptr<SharedLink> link_;
  std::string description_;
  std::unordered_map<SharedLink::FlowId, std::shared_ptr<Flow>> flows_;
  std::unordered_map<const simgrid::s4u::Host*, std::uint64_t> connections_;  // per worker host, in order of first transfer
  std::vector<std::string> peers_;  // each connection's worker host name
  LinkTrace* trace_ = nullptr;
  simgrid::s4u::SemaphorePtr wake_;  // released by poke()
  bool poked_ = false;
};

/// The exact fluid model: max-min fair sharing of the shard's NIC (ps_bandwidth bytes/s per
/// direction) among flows capped at worker_cap bytes/s each.
std::unique_ptr<StarNetwork> make_fluid_star(simgrid::s4u::Host* server, double ps_bandwidth, double worker_cap);

/// The packet model: each direction of the shard's NIC a FIFO queue of packets at
/// spec.rate, each flow window-limited and capped at spec.flow_cap by its own NIC
/// (sim/packet_link.hpp).
std::unique_ptr<StarNetwork> make_packet_star(simgrid::s4u::Host* server, const PacketLinkSpec& spec);

}  // namespace synclab::sim
