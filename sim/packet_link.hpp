#pragma once
// Both directions of the shared link at packet level: the shard's NIC as two first-come-
// first-served queues of segments (into the shard: pushes; out of it: replies), fed by
// window-limited flows that are clocked by their acknowledgements (the way TCP connections
// share a switch port or a host's egress queue). Unlike the fluid model
// (fair_share_link.hpp), a flow whose segments are already queued keeps its place: when a
// new flow arrives, its first segments wait behind the window the others have in the
// queue, so flows that start at different times drift apart instead of finishing in
// lockstep. No clock and no SimGrid: the caller says what time it is.
//
// Every flow crosses two stages in tandem: its worker's NIC (a private stage of `flow_cap`
// bytes/s; not shared, since a worker's NIC carries one transfer at a time) and one shared
// queue. A push crosses the worker's NIC, then the queue into the shard; a reply the queue
// out of the shard (the sender's own egress), then the worker's NIC. A flow has at most
// `window` bytes between entering its first stage and the return of their acknowledgement
// (TCP's in-flight limit). The receiver acknowledges every `ack_every` segments (with
// bbr, each TSO burst of at least that many once it has all of it: a burst arrives as one
// packet) and the last byte, with an ACK of `ack_bytes`, which travels back through the
// other direction's queue behind whatever data waits there: a push's ACKs wait behind the
// replies queued at the shard's egress, a reply's behind the pushes queued at its ingress.
// That is how two-way traffic slows a flow whose window does not cover the other
// direction's queue. Latency is not modelled here: the caller adds it once per transfer.
//
// A flow's window is fixed (`window`), drawn per flow from measured ones (`windows`), or
// (`bbr`) the congestion window of its connection's sender, which persists from one
// message to the next and follows what the connection met: its delivery rate and how its
// ACKs bunched up behind the other direction's queue (bbr_window.hpp). Flows of one
// connection and direction then share that window, and it paces them per TSO burst at
// its pacing rate (a burst's segments leave together, as the kernel sends). With
// `small_queues`, the shard's senders also obey TCP small queues: the shard's egress queue
// is on the sender's own host, and Linux lets a socket have at most about 1 ms of its
// pacing rate (two TSO bursts at least) in its host's queues, so several replies interleave
// there in chunks of that size instead of one sender's window ahead of the next. A push's
// bytes leave the worker's host before they reach the shared queue: they are not limited.
//
// With `first_reads`, the receiver sends no ACK for a message before its process first reads
// it, a drawn time after its first packet is in (Linux acknowledges at once only while the
// window it offers keeps up, which takes a read), unless that receiver is already reading
// another message of the same direction (the shard for pushes, a worker for its replies).
//
// With `burst`, every NIC (the shared queues and each flow's own) is a token bucket, as a
// shaper such as tc tbf is: after an idle spell `burst` bytes leave at once, then the rate
// holds. That changes little of a message's time (burst / rate), but BBR's delivery-rate
// samples see the bursts, its estimate and so its small-queue limit run far above the
// link, and a reply keeps its place ahead of one that leaves just after it.
//
// One uncontended flow of M bytes in segments of s takes M / min(rate, cap) + s / max(rate,
// cap) (store and forward of one segment) when its window covers the segments in transit
// and an ACK's way back; n flows of M bytes started together into a shared queue as fast
// as the flows' NICs all end by n M / rate + s / cap.
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <queue>
#include <vector>

#include "core/common/rng.hpp"
#include "sim/bbr_window.hpp"
#include "sim/shared_link.hpp"

namespace synclab::sim {

/// What a PacketLink is made of; every field is a property of the link or of TCP.
struct PacketLinkSpec {
  double rate = 0;                     ///< bytes/s of the shared NIC, each direction (> 0)
  double flow_cap = 0;                 ///< bytes/s of each flow's own NIC (<= 0: none)
  std::uint64_t segment = 1448;        ///< bytes per packet (> 0)
  std::uint64_t window = 14480;        ///< bytes a flow may have unacknowledged (one segment always may)
  std::vector<std::uint64_t> windows{};  ///< if not empty, each flow's window is drawn from these
  std::uint64_t seed = 1;              ///< seeds the draws (a run repeats exactly)
  std::uint64_t ack_bytes = 66;        ///< an ACK on the wire: Ethernet 14 + IP 20 + TCP 20 + timestamps 12
  std::uint64_t ack_every = 2;         ///< segments per ACK: every second full one (RFC 1122 delayed ACK)
  bool acks_queued = true;             ///< false: each segment's room returns on arrival, no ACK packets (the data path alone)
  bool bbr = false;                    ///< true: each connection's window is its BBR sender's (window and windows unused)
  double base_rtt = 0;                 ///< s: with bbr, the path's round trip (twice its latency): the handshake's, and what every ACK's time carries as its sender sees it
  std::uint64_t gso_max_size = 65536;  ///< with bbr: the senders' interface's largest GSO packet (caps a TSO burst)
  bool small_queues = true;            ///< with bbr: a reply's sender keeps at most its small-queue limit in the shard's egress queue
  std::uint64_t burst = 0;             ///< bytes of every NIC's token bucket (a shaper's burst); 0: none
  /// If not empty, each flow draws from these (seconds) how long after its first packet
  /// reaches the receiver the receiving process first reads it: no ACK leaves before.
  std::vector<double> first_reads{};
};

class PacketLink final : public SharedLink {
 public:
  /// Throws std::invalid_argument for a rate that is not positive or a zero segment.
  explicit PacketLink(PacketLinkSpec spec);

  /// Starts a flow of `bytes` in `direction` at time `now` (an earlier time than the link
  /// has reached counts as that time). Ids increase with every start, over both directions.
  FlowId add(double now, Direction direction, std::uint64_t bytes, std::uint64_t connection = 0) override;
  /// Drops an unfinished flow at time `now` (a crashed peer): it sends nothing more, and
  /// what it already sent still occupies the links it is on.
  void remove(double now, FlowId id) override;
  /// Time the next flow completes if nothing starts or stops before; +inf with no flow.
  double next_completion() const override;
  /// Runs the link up to `now` and returns the bytes flow `id` has delivered (kDone once
  /// it is complete or removed).
  std::uint64_t delivered(double now, FlowId id) override;
  /// Runs the link up to `now` and completes, in the order they finish, every flow done by
  /// `now` or within `tolerance` seconds after it; returns their ids.
  std::vector<FlowId> complete(double now, double tolerance) override;
  /// When the first byte of a flow the latest complete() returned reached its receiver.
  double first_byte(FlowId id) const override;
  /// Flows not yet complete (or complete but not yet collected by complete()).
  std::size_t active() const { return flows_.size() + finished_.size(); }
  /// Packets (data and ACKs) moved through the shared queues so far (the model's unit of work).
  std::uint64_t segments() const { return segments_; }
  /// The window a flow has now (bytes; with `bbr`, its connection's); 0 for a flow that is not active.
  std::uint64_t window_of(FlowId id) const;
  /// With `bbr`: the sender of `connection` in `direction` (nullptr before its first flow).
  const BbrWindow* sender(Direction direction, std::uint64_t connection) const;
  /// Reports every data packet leaving a shared queue to `observer` (always true).
  bool observe_packets(PacketObserver observer) override;

 private:
  enum class Kind : std::uint8_t { Arrive, Served, Delivered, Acked, Paced, Read };
  struct Event {
    double time;
    std::uint64_t seq;  // insertion order: ties go first come, first served
    Kind kind;
    int queue;          // Arrive, Served: which shared queue (a Direction)
    FlowId flow;
    std::uint64_t bytes;
    bool ack;           // Arrive: the packet is an ACK (carrying `bytes` acknowledged)
    std::uint64_t conn; // with bbr: the flow's connection (ACKs outlive their flow; Paced: whose pace allows a segment)
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const { return a.time > b.time || (a.time == b.time && a.seq > b.seq); }
  };
  /// With burst: a NIC shaped as tc tbf is: tokens accrue at its rate up to `burst` bytes,
  /// and a packet leaves once there are as many as its bytes.
  struct TokenBucket {
    double tokens = -1;  // bytes at `at`; < 0: full (a NIC idle since the start)
    double at = 0;
    /// When a packet of `bytes` that is ready at `ready` leaves a NIC of `rate` and `burst`.
    double depart(double ready, double bytes, double rate, double burst);
  };
  struct Flow {
    Direction direction = Direction::Into;
    std::uint64_t size = 0;
    std::uint64_t released = 0;   // bytes handed to the first stage
    std::uint64_t delivered = 0;  // bytes the receiver has
    double first_at = -1;         // when its first byte reached the receiver (< 0: not yet)
    std::uint64_t unacked = 0;    // delivered bytes no ACK has been sent for yet
    std::uint64_t acked = 0;      // bytes whose ACK is back at the sender (without bbr; with it, the connection counts)
    double cap_free = 0;          // time the flow's own NIC is done with what it was given
    TokenBucket cap_bucket;       // with burst: that NIC's tokens
    std::uint64_t window = 0;     // bytes it may have unacknowledged (without bbr)
    std::uint64_t conn = 0;       // with bbr: its connection's key in conns_
    std::uint64_t peer = 0;       // the connection it was started on (as add() was told)
    std::deque<std::uint64_t> burst_ends;  // with bbr: where each TSO burst handed out ends (bytes into the flow)
    double read_after = 0;        // with first_reads: its draw, seconds from its first packet in to the first read
    double read_at = -1;          // when the receiving process first reads it (< 0: nothing in yet); no ACK before
  };
  struct Packet {
    FlowId flow;
    std::uint64_t bytes;  // on the wire
    std::uint64_t acks;   // > 0: an ACK for that many bytes
    std::uint64_t conn;
    double arrived;       // when it joined the queue
  };
  // With bbr: one TCP sender (a connection in one direction), over the flows it carries.
  struct Connection {
    Connection(std::uint64_t mss, unsigned cycle_draw, double base_rtt, std::uint64_t gso)
        : cc(mss, cycle_draw, base_rtt, gso) {}
    BbrWindow cc;
    std::uint64_t sent = 0, acked = 0;  // bytes, over all its flows
    double next_send = 0;               // the pacing rate lets the next segment go then
    bool pace_pending = false;          // a Paced event is queued
    std::uint64_t reported = 0;         // acknowledged bytes handed to cc (whole segments)
    struct Segment {
      std::uint64_t end;  // sent count after it
      BbrSent record;
    };
    // Vectors, not deques: the look-ahead copies every connection at each transfer's start
    // and end, and a vector copies in one allocation.
    std::vector<Segment> unacked;  // in sending order, from unacked_head on
    std::size_t unacked_head = 0;
    std::vector<FlowId> waiting;   // its flows with bytes not yet handed out, in start order
    std::uint64_t queued_own = 0;  // with small_queues: its bytes in the shard's egress queue, not yet sent
    bool queue_full = false;       // with small_queues: a release stopped at the limit
  };

  /// When a packet of `bytes` ready at `ready` is through a NIC of `rate` (its bucket with burst).
  double through(TokenBucket& b, double ready, std::uint64_t bytes, double rate) const;

  void push(double time, Kind kind, int queue, FlowId flow, std::uint64_t bytes, bool ack = false, std::uint64_t conn = 0);
  /// Hands the flow's segments out while its window has room (with bbr, and its pace lets
  /// them go: else a Paced event is queued); true when all are out.
  bool release(FlowId id, Flow& f);
  /// With bbr: the sender of connection `key`, created fresh (its gain cycle drawn) if none.
  Connection& connection(std::uint64_t key);
  /// With bbr: hands out what the connection's window and pace allow, its flows in start order.
  void release_connection(std::uint64_t key);
  /// With bbr: an ACK for `bytes` reaches the sender of connection `key` (which exists).
  void connection_acked(std::uint64_t key, std::uint64_t bytes);
  static std::uint64_t connection_key(Direction direction, std::uint64_t connection) {
    return 2 * connection + static_cast<std::uint64_t>(direction);
  }
  /// The receiver's ACK for what flow `id` has delivered and not yet acknowledged, leaving
  /// at `at` (now, or the first read's time for a flow complete before it).
  void acknowledge(FlowId id, Flow& f, double at);
  /// With bbr: drops the TSO bursts flow `f` has received whole; true if there was one.
  static bool whole_bursts_in(Flow& f);
  /// Whether the process that receives flow `id` is already reading another message of its
  /// direction (one whose first read is past): then it reads this one as it comes.
  bool receiver_reading(FlowId id, const Flow& f) const;
  void start_service(int queue);
  /// Processes every event up to `until` in time order; with `first`, stops after the first
  /// completion. Appends completed flows to finished_; returns the time of the last one
  /// (+inf with none).
  double run(double until, bool first);

  PacketLinkSpec spec_;
  std::uint64_t ack_bytes_every_ = 0;  // delivered bytes that make the receiver send an ACK
  Rng rng_;
  double now_ = 0;
  std::uint64_t seq_ = 0, segments_ = 0;
  FlowId next_id_ = 0;
  std::map<FlowId, Flow> flows_;  // ordered: a deterministic walk
  std::map<std::uint64_t, Connection> conns_;  // with bbr, by connection_key
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  std::deque<Packet> queues_[2];  // waiting for the shard's NIC, per direction; the head in service
  TokenBucket buckets_[2];        // with burst: the shard's NIC, per direction
  struct Finished {
    FlowId id;
    double first_byte;  // Flow::first_at
  };
  std::vector<Finished> finished_;   // completed, not yet returned by complete()
  std::vector<Finished> completed_;  // returned by the latest complete()
  PacketObserver observer_;        // told of each data packet served; empty: nobody
  mutable double predicted_ = -1;  // next_completion() until the state changes; < 0: unknown
};

}  // namespace synclab::sim
