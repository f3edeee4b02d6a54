#pragma once
// One direction of a shared link at packet level: a first-come-first-served queue of
// segments in front of a NIC of `rate` bytes/s, fed by window-limited flows (the way TCP
// connections share a switch port or a host's egress queue). Unlike the fluid model
// (fair_share_link.hpp), a flow whose segments are already queued keeps its place: when a
// new flow arrives, its first segments wait behind the window the others have in the
// queue, so flows that start at different times drift apart instead of finishing in
// lockstep. No clock and no SimGrid: the caller says what time it is.
//
// Every flow crosses two stages in tandem: its own NIC (a private stage of `flow_cap`
// bytes/s; not shared, since a worker's NIC carries one transfer at a time) and the shared
// queue. `cap_upstream` says which comes first: true for transfers into the shared NIC's
// host (the sender's NIC, then the shared queue), false for transfers out of it (the
// shared queue is the sender's egress, then the receiver's NIC). A flow has at most
// `window` bytes between entering its first stage and leaving its last (TCP's in-flight
// limit); a segment leaves the window when its last stage has delivered it. Latency is not
// modelled here: the caller adds it once per transfer.
//
// One uncontended flow of M bytes in segments of s takes M / min(rate, cap) + s / max(rate,
// cap) (store and forward of one segment); n flows of M bytes started together into a
// shared queue as fast as the flows' NICs all end by n M / rate + s / cap.
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <vector>

#include "core/common/rng.hpp"
#include "sim/shared_link.hpp"

namespace synclab::sim {

class PacketLink final : public SharedLink {
 public:

  /// rate: bytes/s of the shared NIC (> 0); flow_cap: bytes/s of each flow's own NIC (<= 0:
  /// none); segment: bytes per packet (> 0); window: bytes a flow may have in flight (at
  /// least one segment is always allowed); cap_upstream: the flow's NIC before the shared
  /// queue (true) or after it (false). windows: if not empty, each flow's window is drawn
  /// from these instead (uniformly, from a generator seeded with `seed`): the windows a
  /// real sender was measured to keep, which differ from transfer to transfer.
  PacketLink(double rate, double flow_cap, std::uint64_t segment, std::uint64_t window, bool cap_upstream,
             std::vector<std::uint64_t> windows = {}, std::uint64_t seed = 1);

  /// Starts a flow of `bytes` at time `now` (an earlier time than the link has reached
  /// counts as that time). Ids increase with every start.
  FlowId add(double now, std::uint64_t bytes) override;
  /// Drops an unfinished flow at time `now` (a crashed peer): it sends nothing more, and
  /// what it already sent still occupies the links it is on.
  void remove(double now, FlowId id) override;
  /// Time the next flow completes if nothing starts or stops before; +inf with no flow.
  double next_completion() const override;
  /// Runs the link up to `now` and completes, in the order they finish, every flow done by
  /// `now` or within `tolerance` seconds after it; returns their ids.
  std::vector<FlowId> complete(double now, double tolerance) override;
  /// Flows not yet complete (or complete but not yet collected by complete()).
  std::size_t active() const { return flows_.size() + finished_.size(); }
  /// Segments moved through the shared queue so far (the model's unit of work).
  std::uint64_t segments() const { return segments_; }
  /// The window a flow was given (bytes); 0 for a flow that is not active.
  std::uint64_t window_of(FlowId id) const {
    const auto it = flows_.find(id);
    return it == flows_.end() ? 0 : it->second.window;
  }

 private:
  enum class Kind : std::uint8_t { Arrive, Served, Delivered };
  struct Event {
    double time;
    std::uint64_t seq;  // insertion order: ties go first come, first served
    Kind kind;
    FlowId flow;
    std::uint64_t bytes;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const { return a.time > b.time || (a.time == b.time && a.seq > b.seq); }
  };
  struct Flow {
    std::uint64_t size = 0;
    std::uint64_t released = 0;   // bytes handed to the first stage
    std::uint64_t delivered = 0;  // bytes the last stage has delivered
    double cap_free = 0;          // time the flow's own NIC is done with what it was given
    std::uint64_t window = 0;     // bytes it may have in flight
  };
  struct Segment {
    FlowId flow;
    std::uint64_t bytes;
  };

  void push(double time, Kind kind, FlowId flow, std::uint64_t bytes);
  void release(FlowId id, Flow& f);
  void start_service();
  /// Processes every event up to `until` in time order; with `first`, stops after the first
  /// completion. Appends completed flows to finished_; returns the time of the last one
  /// (+inf with none).
  double run(double until, bool first);

  double rate_, cap_;
  std::uint64_t segment_, window_;
  bool cap_upstream_;
  std::vector<std::uint64_t> windows_;  // measured windows to draw from; empty: window_
  Rng rng_;
  double now_ = 0;
  std::uint64_t seq_ = 0, segments_ = 0;
  FlowId next_id_ = 0;
  std::map<FlowId, Flow> flows_;  // ordered: a deterministic walk
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  std::deque<Segment> queue_;     // segments waiting for the shared NIC, the head in service
  std::vector<FlowId> finished_;  // completed, not yet returned by complete()
  mutable double predicted_ = -1;  // next_completion() until the state changes; < 0: unknown
};

}  // namespace synclab::sim
