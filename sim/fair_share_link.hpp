#pragma once
// Max-min fair sharing of one link among flows that all have the same rate cap: the exact
// fluid model of a star's shared bottleneck (a parameter server's NIC, one direction) when
// every other link on a flow's route only caps its rate. Every flow then moves at
// min(cap, capacity / n). No clock and no SimGrid: the caller says what time it is.
//
// Flows are kept in order of their finish in virtual bytes (the bytes one flow has received
// since the link's epoch; a flow of M bytes starting at virtual bytes V ends at V + M, since
// all flows move at the same rate), so a start, an end or the next completion costs
// O(log n) instead of re-sharing the link among all n flows.
#include <cstdint>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace synclab::sim {

class FairShareLink {
 public:
  using FlowId = std::uint64_t;

  /// capacity: bytes/s shared by all flows (> 0); flow_cap: bytes/s one flow may use at most
  /// (<= 0: no cap).
  FairShareLink(double capacity, double flow_cap);

  /// Starts a flow of `bytes` (>= 0) at time `now` (never before an earlier call's time).
  /// Ids increase with every start; flows finishing together complete in id order.
  FlowId add(double now, double bytes);
  /// Drops an unfinished flow at time `now` (a crashed peer); the others speed up.
  void remove(double now, FlowId id);
  /// Time the next flow completes if nothing starts or stops before; +inf with no flow.
  double next_completion() const;
  /// Completes, in finish order, every flow that is done by `now` or within `tolerance`
  /// seconds after it, and returns their ids.
  std::vector<FlowId> complete(double now, double tolerance);
  /// Flows moving now.
  std::size_t active() const { return active_; }
  /// Bytes/s each flow moves at now.
  double rate() const;
  /// Bytes flow `id` has left to move at time `now` (advancing the link to it); 0 for a flow
  /// that is not moving.
  double remaining(double now, FlowId id);

 private:
  struct Entry {
    double finish;  // virtual bytes at which the flow is done
    FlowId id;
  };
  void advance(double now);
  void drop_removed_top();
  void rebase();

  double capacity_, cap_;
  double last_ = 0;     // time of the latest advance
  double virtual_ = 0;  // virtual bytes at last_
  double largest_ = 0;  // largest flow size since the last rebase
  std::size_t active_ = 0;
  FlowId next_id_ = 0;
  std::vector<Entry> heap_;               // min-heap on (finish, id)
  std::unordered_set<FlowId> removed_;    // removed flows still in heap_
  std::unordered_map<FlowId, double> finish_of_;  // each moving flow's finish (as in heap_)
};

}  // namespace synclab::sim
