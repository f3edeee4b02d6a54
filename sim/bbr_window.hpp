#pragma once
// One TCP sender's congestion window as Linux's BBR (v1, net/ipv4/tcp_bbr.c, the default
// of the project's testbed kernel) sets it from the ACKs it receives, for the packet model
// (packet_link.hpp). Pure state: the caller says when a segment leaves and when an ACK
// comes back. Every constant is BBR's own; nothing is fitted.
//
// What BBR does that matters for messages of a few hundred KB on a LAN:
//  - a delivery-rate sample per ACK (tcp_rate.c): bytes delivered since the acknowledged
//    segment left, over the longer of its send and ACK intervals; the bandwidth estimate
//    is their maximum over the last 10 round trips (samples taken while the sender had
//    nothing more to send count only where they raise it);
//  - the window's target: 2 x bandwidth x min RTT (2.885 in startup), plus the ACK
//    aggregation it met (the most bytes acknowledged beyond what the bandwidth estimate
//    explains, since the ACK rate last fell below it; the larger of the last two windows
//    of 5 round trips, at most 100 ms of the bandwidth), plus three TSO bursts (the bytes
//    of about 1 ms at the pacing rate, 2-45 segments each, sized as bbr_tso_segs_goal does:
//    capped at 64 KB whatever the interface's GSO size, which caps only the bursts sent);
//  - startup grows the window by each ACK's bytes while below target; once the bandwidth
//    stopped growing by 25% for three rounds (rounds where the sender ran out of data do
//    not count) it drains what startup queued, then probes: the window moves to the
//    target (growing by each ACK's bytes, cut at once when above); never below 4 segments;
//  - the pacing rate, the bandwidth estimate times a gain (in startup never below the
//    first one, 2.885 x 10 segments per handshake round trip): 2.885 in startup, 1/2.885 in
//    drain, then the cycle 1.25, 0.75, 1, 1, 1, 1, 1, 1, a phase per min RTT (the probing
//    phase until the flight reaches 1.25 BDP, the draining one until it falls to one); the
//    packet link paces the connection at it per TSO burst, as the kernel sends.
// The min RTT starts at the handshake's round trip (Linux seeds BBR's with it): the path's
// base RTT, which queued segments never undercut, so BDP terms stay what the path holds.
// Left out: loss recovery (the model drops nothing), ProbeRTT (every 10 s the flight
// drained to 4 segments for 200 ms to find the base RTT again, which the model keeps),
// the long-term bandwidth of policed paths, and the restart after an idle spell longer
// than the retransmission timeout (200 ms at least).
#include <cstdint>
#include <deque>
#include <limits>

namespace synclab::sim {

/// What a segment carried when it left: the connection's delivery state then (tcp_rate.c).
struct BbrSent {
  double time = 0;               ///< s: when the segment left
  std::uint64_t delivered = 0;   ///< bytes acknowledged on the connection by then
  double delivered_time = 0;     ///< s: when that count last grew
  double first_tx_time = 0;      ///< s: when the segment acknowledged last had left
  bool app_limited = false;      ///< the sender had run out of data since
};

class BbrWindow {
 public:
  /// A fresh connection: 10 segments of `mss` bytes, startup, the handshake's round trip
  /// `base_rtt` as its min RTT (<= 0: none yet). The gain cycle starts at a phase BBR
  /// draws at random: `cycle_draw` in 0..6 is that draw. `gso_max_size`: the interface's
  /// largest GSO packet (bytes; Linux's default 65536), which caps a TSO burst.
  explicit BbrWindow(std::uint64_t mss, unsigned cycle_draw = 0, double base_rtt = 0, std::uint64_t gso_max_size = 65536);

  /// A segment leaves with `in_flight` bytes unacknowledged before it: its record.
  BbrSent sent(double now, std::uint64_t in_flight);
  /// The sender has nothing more to send with `in_flight` bytes unacknowledged.
  void out_of_data(std::uint64_t in_flight);
  /// An ACK for `bytes` arrives at `now` with `prior_in_flight` bytes unacknowledged before
  /// it; `newest` is the record of the latest segment it covers. Updates the estimates,
  /// the pacing rate and the window.
  void acked(double now, std::uint64_t bytes, const BbrSent& newest, std::uint64_t prior_in_flight);

  /// Bytes the sender may have unacknowledged.
  std::uint64_t cwnd() const { return cwnd_; }
  /// Bytes/s: the bandwidth estimate (0 before the first valid sample).
  double bandwidth() const;
  /// s: the smallest round trip seen, the handshake's included (+inf before the first).
  double min_rtt() const { return min_rtt_; }
  /// Bytes: the ACK aggregation the window carries now (0 in startup).
  std::uint64_t aggregation() const;
  /// Bytes/s the sender paces at (its TSO bursts are about 1 ms of it); at first 2.885 x
  /// 10 segments per handshake round trip, 1 ms without one (bbr_init_pacing_rate_from_rtt).
  double pacing_rate() const { return pacing_rate_; }
  /// The pacing gain now (2.885 in startup, 1/2.885 in drain, the cycle's after).
  double pacing_gain() const;
  /// Bytes of one TSO burst: about 1 ms at the pacing rate, 2-45 segments (1 below 1.2 Mbit/s),
  /// at most the interface's GSO size.
  std::uint64_t tso_burst() const;
  /// Bytes of one of the three TSO bursts the window's target keeps room for: as tso_burst()
  /// but capped at 64 KB, not the interface's GSO size (Linux's bbr_tso_segs_goal ignores it).
  std::uint64_t budget_burst() const;
  /// Bytes the sender may have in its own host's queues (TCP small queues): two TSO bursts
  /// or about 1 ms at the pacing rate, whichever is more (tcp_small_queue_check).
  std::uint64_t small_queue_limit() const;
  /// True once startup ended (the bandwidth stopped growing).
  bool full_bandwidth() const { return full_bw_reached_; }

 private:
  struct BwSample {
    std::uint64_t round;
    double bw;
  };
  enum class Mode : std::uint8_t { Startup, Drain, ProbeBw };
  /// Bytes: `gain` BDPs plus `extra` plus three TSO bursts, in even segments, 2 more when
  /// probing (bbr_inflight; with the aggregation as `extra`, the window's target).
  double inflight(double gain, double extra = 0) const;
  /// Bytes of about 1 ms at the pacing rate in whole segments, at most `max_bytes` (2-127
  /// segments; 1 below 1.2 Mbit/s).
  std::uint64_t burst_of_at_most(double max_bytes) const;
  void enter_probe_bw(double now);

  std::uint64_t mss_;
  double tso_max_bytes_;  // the interface's GSO size less TCP's header room (sk_gso_max_size)
  std::uint64_t cwnd_;
  std::uint64_t delivered_ = 0;
  double delivered_time_ = 0, first_tx_time_ = 0;
  std::uint64_t app_limited_until_ = 0;  // > 0: out of data until delivered passes it
  double min_rtt_ = std::numeric_limits<double>::infinity();
  std::uint64_t round_ = 0, next_round_delivered_ = 0;
  std::deque<BwSample> bw_;  // the running max over the last 10 rounds
  bool full_bw_reached_ = false;
  double full_bw_ = 0;
  int full_bw_count_ = 0;
  double pacing_rate_;
  Mode mode_ = Mode::Startup;
  unsigned cycle_draw_, cycle_index_ = 0;
  double cycle_stamp_ = 0;
  double ack_epoch_time_ = 0;
  std::uint64_t ack_epoch_acked_ = 0;
  std::uint64_t extra_acked_[2] = {0, 0};
  int extra_acked_index_ = 0, extra_acked_rounds_ = 0;
};

}  // namespace synclab::sim
