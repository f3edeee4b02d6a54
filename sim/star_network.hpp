#pragma once
// The exact shortcut for the built star with one parameter-server shard: every worker's
// NIC carries one transfer at a time, so it only caps that transfer's rate, and the one
// shared resource per direction is the shard's NIC. Max-min fair sharing of it is then
// min(worker NIC, shard NIC / n) per flow (FairShareLink): the same times as SimGrid's
// solver, at O(log n) per transfer start or end instead of a re-solve over all n flows.
//
// A daemon actor on the shard's host completes transfers: it sleeps until the next
// completion, and is woken whenever a start or a cancel changes the shares.
#include <simgrid/forward.h>

#include <memory>
#include <unordered_map>

#include "sim/fair_share_link.hpp"
#include "sim/network_model.hpp"

namespace synclab::sim {

class StarNetwork final : public NetworkModel {
 public:
  /// server: the shard's host (one end of every transfer); ps_bandwidth: its NIC's bytes/s
  /// in each direction; worker_cap: every worker NIC's bytes/s. Creates the daemon actor
  /// (the engine must exist and not be running yet).
  StarNetwork(simgrid::s4u::Host* server, double ps_bandwidth, double worker_cap);
  ~StarNetwork() override;
  std::string describe() const override;
  TransferPtr start(simgrid::s4u::Host* from, simgrid::s4u::Host* to, std::uint64_t bytes) override;
  std::size_t wait_any(const std::vector<TransferPtr>& transfers) override;

  class Flow;  // a transfer of this model

 private:
  friend class Flow;
  void serve();
  void poke();
  void cancel(Flow& flow);
  void finish(int direction, const std::vector<FairShareLink::FlowId>& ids);

  simgrid::s4u::Host* server_;
  double ps_bandwidth_, worker_cap_;
  FairShareLink links_[2];  // 0: into the shard (pushes), 1: out of it (replies)
  std::unordered_map<FairShareLink::FlowId, std::shared_ptr<Flow>> flows_[2];
  simgrid::s4u::SemaphorePtr wake_;  // released by poke()
  bool poked_ = false;
};

}  // namespace synclab::sim
