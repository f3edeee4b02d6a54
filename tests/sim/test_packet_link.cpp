// The packet model: the shared NIC as FIFO queues of window-limited packets, in closed
// form (one flow, n flows started together, a head start that grows by the window), its
// determinism, windows drawn from measured ones, ACKs that wait behind the other
// direction's queue, and whole runs where its pipelining shows against the fluid model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/config/run_config.hpp"
#include "sim/fair_share_link.hpp"
#include "sim/network_model.hpp"
#include "sim/packet_link.hpp"
#include "sim/simulation.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"

namespace fs = std::filesystem;
using synclab::sim::BbrWindow;
using synclab::sim::FairShareLink;
using synclab::sim::PacketLink;
using synclab::sim::PacketLinkSpec;
using synclab::sim::testing::run_in_child;
using Dir = PacketLink::Direction;

namespace {

// One direction of the packet link (upstream: pushes, the flow's NIC before the shared
// queue; else replies). Its ACKs cost nothing and come one per segment, so only the data
// path counts and the FIFO queue's closed forms hold exactly; the ACK tests below use the
// link itself.
class OneWay {
 public:
  OneWay(double rate, double cap, std::uint64_t s, std::uint64_t w, bool upstream, std::vector<std::uint64_t> windows = {},
         std::uint64_t seed = 1)
      : link_(PacketLinkSpec{.rate = rate, .flow_cap = cap, .segment = s, .window = w, .windows = std::move(windows),
                             .seed = seed, .ack_bytes = 0, .ack_every = 1}),
        dir_(upstream ? Dir::Into : Dir::OutOf) {}
  PacketLink::FlowId add(double now, std::uint64_t bytes) { return link_.add(now, dir_, bytes); }
  void remove(double now, PacketLink::FlowId id) { link_.remove(now, id); }
  double next_completion() const { return link_.next_completion(); }
  std::vector<PacketLink::FlowId> complete(double now, double tolerance) { return link_.complete(now, tolerance); }
  std::size_t active() const { return link_.active(); }
  std::uint64_t window_of(PacketLink::FlowId id) const { return link_.window_of(id); }
  double first_byte(PacketLink::FlowId id) const { return link_.first_byte(id); }

 private:
  PacketLink link_;
  Dir dir_;
};

// Runs the link until every flow is done; returns each flow's completion time by id.
template <class Link>
std::map<PacketLink::FlowId, double> drain(Link& link) {
  std::map<PacketLink::FlowId, double> done;
  for (int guard = 0; guard < 1'000'000 && link.active() > 0; ++guard) {
    const double t = link.next_completion();
    for (auto id : link.complete(t, 0)) done[id] = t;
  }
  return done;
}

constexpr double kRel = 1e-12;

TEST(PacketLink, OneFlowTakesItsBytesOverTheSlowerNicPlusOnePacket) {
  const std::uint64_t s = 1448, m = 690 * s;
  for (bool upstream : {true, false}) {
    // Equal NICs: M / B, plus one packet stored and forwarded by the other NIC.
    OneWay equal(1e8, 1e8, s, 10 * s, upstream);
    equal.add(0.5, m);
    const auto a = drain(equal);
    EXPECT_NEAR(a.at(0), 0.5 + (m + s) / 1e8, kRel) << upstream;
    // A slower worker NIC sets the pace; the fast shared NIC adds one packet's time.
    OneWay slow(1e8, 2.5e7, s, 10 * s, upstream);
    slow.add(0, m);
    EXPECT_NEAR(drain(slow).at(0), m / 2.5e7 + s / 1e8, kRel) << upstream;
  }
  // No worker NIC (<= 0): the shared NIC alone.
  OneWay bare(1e8, 0, s, 10 * s, false);
  bare.add(0, m);
  EXPECT_NEAR(drain(bare).at(0), m / 1e8, kRel);
  // A message that is not a whole number of packets, and an empty one.
  OneWay odd(1e6, 0, 1000, 4000, true);
  odd.add(0, 2500);
  odd.add(0, 0);
  const auto o = drain(odd);
  EXPECT_NEAR(o.at(0), 2500 / 1e6, kRel);
  EXPECT_EQ(o.at(1), 0.0);
}

// When a flow's first byte reaches its receiver (where a real receiver's read first
// returns, and its transfer starts as a driver counts it): one packet through both NICs
// after its start, or, queued behind another flow's window, after that window too.
TEST(PacketLink, FirstByteArrivesAfterWhatQueuedAheadOfIt) {
  const std::uint64_t s = 1000, m = 400 * s;
  const double rate = 1e7, cap = 4e7;
  OneWay replies(rate, cap, s, m, false);  // windows of the whole message: first come, first served
  const auto a = replies.add(0.25, m);
  const auto b = replies.add(0.25, m);
  std::map<PacketLink::FlowId, double> first;
  for (int guard = 0; guard < 100 && replies.active() > 0; ++guard)
    for (auto id : replies.complete(replies.next_completion(), 0)) first[id] = replies.first_byte(id);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NEAR(first.at(a), 0.25 + s / rate + s / cap, kRel);
  EXPECT_NEAR(first.at(b), 0.25 + (m + s) / rate + s / cap, kRel);
  // An empty flow: its first byte is its completion.
  OneWay empty(rate, cap, s, m, true);
  const auto e = empty.add(0.5, 0);
  ASSERT_EQ(empty.complete(empty.next_completion(), 0), std::vector<PacketLink::FlowId>{e});
  EXPECT_EQ(empty.first_byte(e), 0.5);
  EXPECT_THROW((void)empty.first_byte(e + 1), std::logic_error);
}

// What a flow has delivered, asked for while it moves (a transfer's kernel work follows
// it): two flows sharing the link have together what the link moved, within a packet or
// two, and each about half of it, within a window; asking runs the link ahead in steps without changing when they end;
// a completed flow reads as done.
TEST(PacketLink, DeliveredFollowsAFlowsShareAndChangesNothing) {
  const std::uint64_t m = 300'000, s = 1448;
  PacketLink asked(PacketLinkSpec{.rate = 1e8, .flow_cap = 1e8, .segment = s, .window = 10 * s});
  PacketLink quiet(PacketLinkSpec{.rate = 1e8, .flow_cap = 1e8, .segment = s, .window = 10 * s});
  const auto a = asked.add(0, Dir::OutOf, m), b = asked.add(0, Dir::OutOf, m);
  quiet.add(0, Dir::OutOf, m), quiet.add(0, Dir::OutOf, m);
  std::uint64_t last = 0;
  for (int k = 1; k <= 5; ++k) {
    const double t = k * 1e-3;  // 100,000 bytes through the link per millisecond
    const std::uint64_t da = asked.delivered(t, a), db = asked.delivered(t, b);
    EXPECT_NEAR(static_cast<double>(da + db), k * 1e5, 2.0 * s) << t;
    EXPECT_NEAR(static_cast<double>(da), k * 5e4, 10.0 * s) << t;  // a window apart at most
    EXPECT_NEAR(static_cast<double>(db), k * 5e4, 10.0 * s) << t;
    EXPECT_GE(da, last);
    last = da;
  }
  const auto ends = drain(asked), same = drain(quiet);
  EXPECT_EQ(ends, same);
  EXPECT_EQ(asked.delivered(ends.at(a), a), PacketLink::kDone);
}

TEST(PacketLink, FlowsStartedTogetherShareTheLinkAndEndWithinOneRound) {
  const std::uint64_t m = 300'000, s = 1448;
  for (int n : {1, 2, 7, 50}) {
    OneWay link(1e8, 1e8, s, 10 * s, true);
    for (int i = 0; i < n; ++i) link.add(0, m);
    const auto done = drain(link);
    ASSERT_EQ(done.size(), static_cast<std::size_t>(n));
    double first = 1e9, last = 0;
    for (const auto& [id, t] : done) first = std::min(first, t), last = std::max(last, t);
    // All n M bytes pass the shared NIC back to back after the first packet reached it.
    EXPECT_NEAR(last, (n * m + s) / 1e8, kRel) << n;
    // Interleaved packet by packet: the first flow ends at most one round of packets earlier.
    EXPECT_GE(first, last - n * s / 1e8 - kRel) << n;
  }
}

TEST(PacketLink, IncumbentKeepsItsQueuedWindowAheadOfALateFlow) {
  // Replies: the shared NIC is the sender's own egress, and a flow queues its whole window
  // (k packets) at once, refilling it packet by packet. The second flow starts while the
  // first has served j and a half packets: its window waits behind the first's k queued
  // packets, then the two alternate in blocks of k (each served packet's refill goes to
  // the back of the queue).
  const std::uint64_t s = 1000, k = 20, n = 400, j = 20;  // n - j - k: a whole number of blocks
  const double rate = 1e7, tick = s / rate, delta = (j + 0.5) * tick;
  OneWay packet(rate, 0, s, k * s, false);
  packet.add(0, n * s);
  packet.add(delta, n * s);
  const auto p = drain(packet);
  EXPECT_NEAR(p.at(0), (2 * n - j - k) * tick, kRel);
  EXPECT_NEAR(p.at(1), 2 * n * tick, kRel);
  // Fair sharing: the first flow's head start stays delta, no more.
  FairShareLink fluid(rate, 0);
  fluid.add(0, static_cast<double>(n * s));
  fluid.add(delta, static_cast<double>(n * s));
  EXPECT_NEAR(fluid.next_completion(), 2 * n * tick - delta, 1e-9);
  EXPECT_LT(p.at(0), fluid.next_completion() - (k - 1) * tick);

  // A window as large as the message: first come, first served, message by message.
  const std::uint64_t m = n * s;
  OneWay fifo(rate, 0, s, m, false);
  fifo.add(0, m);
  fifo.add(delta, m);
  fifo.add(2 * delta, m);
  const auto f = drain(fifo);
  for (PacketLink::FlowId i = 0; i < 3; ++i) EXPECT_NEAR(f.at(i), (i + 1.0) * m / rate, kRel) << i;
}

TEST(PacketLink, RemovedFlowSendsNothingMore) {
  OneWay link(1e6, 0, 1000, 4000, false);
  const auto a = link.add(0, 100'000);
  const auto b = link.add(0, 100'000);
  link.remove(0.01, a);
  const auto done = drain(link);
  ASSERT_EQ(done.size(), 1u);
  // By 0.01 s ten packets had left, alternating; a's four queued ones still go out after.
  EXPECT_GT(done.at(b), 0.1);
  EXPECT_LT(done.at(b), 0.1 + 0.01);
  EXPECT_EQ(link.active(), 0u);
}

TEST(PacketLink, SameInputsSameTimes) {
  auto run = [] {
    synclab::Rng rng(7);
    OneWay link(1.25e7, 1.25e7, 1448, 14480, true);
    std::vector<double> times;
    double now = 0;
    for (int i = 0; i < 200; ++i) {
      now += 0.01 * rng.uniform();
      for (auto id : link.complete(now, 1e-9)) times.push_back(static_cast<double>(id) + now);
      link.add(now, 1000 + rng.below(500'000));
    }
    for (const auto& [id, t] : drain(link)) times.push_back(static_cast<double>(id) + t);
    return times;
  };
  EXPECT_EQ(run(), run());
}

// Measured windows: each flow gets one of them, drawn from the seeded stream (the same
// seed, the same windows), and a flow's window bounds what it has in flight.
TEST(PacketLink, EachFlowDrawsItsWindowFromTheMeasuredOnes) {
  const std::vector<std::uint64_t> measured = {4000, 10000, 30000};
  auto windows = [&](std::uint64_t seed) {
    OneWay link(1e6, 0, 1000, 2000, false, measured, seed);
    std::vector<std::uint64_t> got;
    for (int i = 0; i < 60; ++i) got.push_back(link.window_of(link.add(0, 1'000'000)));
    return got;
  };
  const auto a = windows(5);
  for (auto w : a) EXPECT_NE(std::find(measured.begin(), measured.end(), w), measured.end()) << w;
  for (auto w : measured) EXPECT_NE(std::find(a.begin(), a.end(), w), a.end()) << w << " never drawn in 60";
  EXPECT_EQ(a, windows(5));
  EXPECT_NE(a, windows(6));
  // Two flows started together from an empty queue: the one with the larger window queues
  // more ahead of the other's packets, so it finishes first.
  bool compared = false;
  for (std::uint64_t seed = 1; seed <= 16 && !compared; ++seed) {
    OneWay link(1e6, 0, 1000, 2000, false, {4000, 30000}, seed);
    const auto x = link.add(0, 100'000), y = link.add(0, 100'000);
    const auto wx = link.window_of(x), wy = link.window_of(y);
    if (wx == wy) continue;
    const auto done = drain(link);
    EXPECT_LT(done.at(wx > wy ? x : y), done.at(wx > wy ? y : x));
    compared = true;
  }
  EXPECT_TRUE(compared) << "no seed of sixteen gave the two flows different windows";
}

// Two-way traffic: a push's ACKs leave the shard behind the replies queued at its egress.
// A reply keeps its window (20 packets) queued there; a push whose window (5 packets) is
// smaller than that queue sends 5 packets per round trip of about 15-20 packet times, so it
// runs at a quarter of the link or less, while the reply, whose ACKs wait behind at most the
// push's 5 packets at the ingress, keeps the link full. Alone, or with a window that
// covers the other direction's queue, the push runs at the full rate.
TEST(PacketLink, AckBehindTheOtherDirectionsQueueHoldsBackASmallWindow) {
  const std::uint64_t s = 1000, n = 2000;
  const double rate = 1e7, tick = s / rate;
  auto spec = [&](std::vector<std::uint64_t> windows) {
    return PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = s, .windows = std::move(windows), .seed = 1,
                          .ack_bytes = 0, .ack_every = 1};
  };
  // Alone: n packets at the full rate.
  PacketLink alone(spec({5 * s}));
  const auto lone = alone.add(0, Dir::Into, n * s);
  EXPECT_NEAR(drain(alone).at(lone), n * tick, kRel);
  // Equal windows of 20 packets: each flow keeps about 10 queued, which its ACKs and the
  // other's wait behind in turn, and both directions run at the full rate.
  PacketLink even(spec({20 * s}));
  const auto r = even.add(0, Dir::OutOf, 8 * n * s), p = even.add(0, Dir::Into, n * s);
  const auto e = drain(even);
  EXPECT_LT(e.at(p), 1.05 * n * tick);
  EXPECT_LT(e.at(r), 1.05 * 8 * n * tick);
  // Unequal windows: draw them from two-element lists until the push gets 5 and the reply 20.
  bool seen = false;
  for (std::uint64_t seed = 1; seed <= 32 && !seen; ++seed) {
    auto sp = spec({5 * s, 20 * s});
    sp.seed = seed;
    PacketLink link(sp);
    const auto reply = link.add(0, Dir::OutOf, 8 * n * s), push = link.add(0, Dir::Into, n * s);
    if (link.window_of(reply) != 20 * s || link.window_of(push) != 5 * s) continue;
    seen = true;
    const auto done = drain(link);
    EXPECT_GT(done.at(push), 3.0 * n * tick) << "the push's ACKs wait behind the reply's 15-20 queued packets";
    EXPECT_LT(done.at(push), 5.0 * n * tick);
    EXPECT_LT(done.at(reply), 1.05 * 8 * n * tick) << "the reply keeps its direction busy";
  }
  EXPECT_TRUE(seen) << "no seed of 32 drew a 5-packet push beside a 20-packet reply";
}

// BBR windows (bbr = true): a connection keeps its sender from one message to the next,
// and the sender sizes its window from the delivery rate it gets, not from the delay its
// ACKs meet. Ten pushes of 318 KB on connection 0, one after another at 100 Mb/s: alone,
// the window settles at what BBR keeps for a lone flow on this path (the base RTT is 32
// us, so 2 BDP is under a segment; three TSO bursts of 1 ms of pacing and the aggregation
// of ACKs that come one per burst make it: 22-80 segments, where the windows calibrate
// read after lone messages on the 100 Mb/s testbed, 38-150 segments, mostly lie); beside
// four long replies, whose queued windows its ACKs wait behind, the pushes get a fraction
// of the rate, and their window shrinks with it (its TSO bursts).
TEST(PacketLink, BbrWindowsPersistPerConnectionAndFollowTheRateTheyGet) {
  const std::uint64_t s = 1448, m = 220 * s;
  const double rate = 12.5e6;
  // The replies' senders keep their whole window queued (no small queues): the case above.
  const PacketLinkSpec spec{.rate = rate, .flow_cap = rate, .segment = s, .seed = 3, .bbr = true, .base_rtt = 32e-6,
                            .small_queues = false};
  auto pushes = [&](bool beside_replies) {
    PacketLink link(spec);
    if (beside_replies)
      for (std::uint64_t c = 1; c <= 4; ++c) link.add(0, Dir::OutOf, 400 * m, c);
    double now = 0;
    for (int i = 0; i < 10; ++i) {
      const auto id = link.add(now, Dir::Into, m, 0);
      EXPECT_EQ(link.window_of(id), link.sender(Dir::Into, 0)->cwnd());
      for (bool done = false; !done;) {
        now = link.next_completion();
        for (auto f : link.complete(now, 0)) done = done || f == id;
      }
    }
    return std::make_pair(now, *link.sender(Dir::Into, 0));
  };
  const auto [t_alone, alone] = pushes(false);
  const auto [t_beside, beside] = pushes(true);
  EXPECT_TRUE(alone.full_bandwidth());
  EXPECT_NEAR(alone.min_rtt(), 32e-6, 1e-12) << "the handshake's round trip stays the min";
  EXPECT_GE(alone.cwnd(), 22 * s);
  EXPECT_LE(alone.cwnd(), 80 * s);
  EXPECT_NEAR(t_alone, 10 * m / rate, 0.05 * 10 * m / rate);
  EXPECT_LT(beside.bandwidth(), 0.5 * alone.bandwidth());
  EXPECT_LT(beside.cwnd(), 0.75 * alone.cwnd());
  EXPECT_GT(t_beside, 2 * t_alone);
  EXPECT_EQ(PacketLink(spec).sender(Dir::Into, 0), nullptr) << "no sender before a connection's first flow";
}

// TCP small queues: the shard's egress queue is its senders' own host queue, where Linux
// lets a socket keep about 1 ms of its pacing rate (two TSO bursts at least) and no more.
// Four long replies at 1 Gb/s share the queue, each paced at about its share, while their
// windows also cover ACKs delayed behind a long push: each holds at most its limit in the
// queue, so a reply that starts on a fifth connection waits behind at most the four limits;
// without them, behind the four windows.
TEST(PacketLink, SmallQueuesLetALateReplyPassLongOnes) {
  const std::uint64_t s = 1448, big = 400 * 220 * s;
  const double rate = 125e6;
  const std::uint64_t n = 4;
  auto late_reply = [&](bool small_queues, std::uint64_t gso) {
    PacketLink link(PacketLinkSpec{.rate = rate, .flow_cap = rate, .segment = s, .seed = 5, .bbr = true,
                                   .base_rtt = 32e-6, .gso_max_size = gso, .small_queues = small_queues});
    for (std::uint64_t c = 0; c < n; ++c) link.add(0, Dir::OutOf, big, c);
    link.add(0, Dir::Into, big, n + 1);  // the replies' ACKs wait behind its queued data
    const double start = 0.05;           // the senders have left startup by then
    EXPECT_GT(link.next_completion(), start);
    const auto late = link.add(start, Dir::OutOf, s, n);
    std::uint64_t limits = 0, windows = 0;
    for (std::uint64_t c = 0; c < n; ++c) {
      limits += link.sender(Dir::OutOf, c)->small_queue_limit() + link.sender(Dir::OutOf, c)->tso_burst();
      windows += link.sender(Dir::OutOf, c)->cwnd();
    }
    for (;;) {
      const double now = link.next_completion();
      for (auto f : link.complete(now, 0))
        if (f == late) return std::make_tuple(now - start, limits, windows);
    }
  };
  for (std::uint64_t gso : {65536, 8192}) {
    const auto [t_on, limits, windows] = late_reply(true, gso);
    // Its one segment: behind at most the limits (each with a burst's slack, as the pacing
    // rate moves while it waits), then its own time on both NICs.
    EXPECT_LE(t_on, static_cast<double>(limits + 2 * s) / rate) << gso;
    if (gso == 65536) {
      // Bursts of up to 64 KB make windows well above the limits: the limits bind.
      const auto [t_off, unused, windows_off] = late_reply(false, gso);
      EXPECT_GT(windows_off, limits);
      EXPECT_GT(t_off, 2 * t_on);
      EXPECT_GT(t_off, static_cast<double>(limits) / rate);
    }
  }
}

// An ACK is a packet of its own in the other direction's queue: 66 bytes at the link's
// rate, one per two segments by default, so a lone flow's window of two segments waits
// for each ACK to be served and returned before it sends again.
TEST(PacketLink, AcksTakeTheirTimeOnTheWire) {
  const std::uint64_t s = 1448, m = 200 * s;
  const double rate = 1e6;
  PacketLink wide(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = 20 * s});
  const auto a = wide.add(0, Dir::Into, m);
  EXPECT_NEAR(drain(wide).at(a), m / rate, kRel) << "a window of 20 packets covers an ACK's way back";
  PacketLink narrow(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = 2 * s});
  const auto b = narrow.add(0, Dir::Into, m);
  // Two packets, then their ACK (66 bytes) through the empty reverse queue, for each pair
  // but the last (the flow completes when its last byte arrives).
  EXPECT_NEAR(drain(narrow).at(b), m / rate + 99 * 66 / rate, kRel);
}

// The receiver sends no ACK before its process's first read of the message (drawn from
// sim.packet.first_reads): a window of two packets stalls after the first pair until then,
// and every later ACK comes as before; a read sooner than the pair's ACK changes nothing,
// and neither does a late one where the window covers the wait.
TEST(PacketLink, TheFirstAckWaitsForTheReceiversFirstRead) {
  const std::uint64_t s = 1448, m = 200 * s;
  const double rate = 1e6, tick = s / rate;
  const double plain = m / rate + 99 * 66 / rate;  // AcksTakeTheirTimeOnTheWire's narrow window
  auto narrow = [&](double read) {
    PacketLink link(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = 2 * s, .first_reads = {read}});
    const auto id = link.add(0, Dir::Into, m);
    return drain(link).at(id);
  };
  // The first packet is in after one tick, the pair after two: a read 5 ms after the first
  // holds the pair's ACK back by 5 ms less a tick.
  EXPECT_NEAR(narrow(5e-3), plain + 5e-3 - tick, kRel);
  EXPECT_NEAR(narrow(0.5 * tick), plain, kRel) << "read before the pair is in: its ACK leaves as it would";
  PacketLink wide(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = 20 * s, .first_reads = {5e-3}});
  const auto w = wide.add(0, Dir::Into, m);
  EXPECT_NEAR(drain(wide).at(w), m / rate, kRel) << "20 packets in flight outlast a 5 ms wait for the read";
  // A flow that is all in before the read still completes when its last byte is.
  PacketLink small(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .window = 20 * s, .first_reads = {1.0}});
  const auto one = small.add(0, Dir::OutOf, 10 * s);
  EXPECT_NEAR(drain(small).at(one), 10 * tick, kRel);
}

// A receiver already reading a message of the same direction (the shard, for a push while
// another push comes in; a worker, for a reply while another reply to it does) reads the
// next one as it comes: a push that starts while another is read delivers exactly as with
// reads at once, ms by ms; one that starts after the other ended finds the shard asleep.
TEST(PacketLink, AReceiverAlreadyReadingTakesTheNextMessageAtOnce) {
  const std::uint64_t s = 1448, m = 200 * s;
  const double rate = 1e6, tick = s / rate;
  bool seen = false;
  for (std::uint64_t seed = 1; seed <= 64 && !seen; ++seed) {
    // A push of `first` bytes with a window of 20 packets (its read does not stall it),
    // then at 500 ms a push with a window of 2; reads after 5 ms, or at once (a draw of 0).
    // Returns the second's bytes delivered at each ms from its start, then its end.
    auto run = [&](double read, std::uint64_t first, std::uint64_t* second_window) {
      PacketLink link(PacketLinkSpec{.rate = rate, .flow_cap = 0, .segment = s, .windows = {2 * s, 20 * s}, .seed = seed,
                                     .first_reads = {read}});
      const auto a = link.add(0, Dir::Into, first, 1);
      const bool wide = link.window_of(a) == 20 * s;
      const auto b = link.add(0.5, Dir::Into, m, 2);
      *second_window = wide ? link.window_of(b) : 0;
      std::vector<double> trace;
      for (int k = 1; k <= 100; ++k) trace.push_back(static_cast<double>(link.delivered(0.5 + k * 1e-3, b)));
      trace.push_back(drain(link).at(b));
      return trace;
    };
    std::uint64_t w = 0;
    const auto at_once = run(0.0, 4 * m, &w);
    if (w != 2 * s) continue;
    seen = true;
    EXPECT_EQ(run(5e-3, 4 * m, &w), at_once) << "the shard is reading the first push";
    // The first push done long before: the second is alone, and waits for its read.
    const double alone = run(0.0, 10 * s, &w).back();
    EXPECT_NEAR(run(5e-3, 10 * s, &w).back(), alone + 5e-3 - tick, kRel) << "the shard sleeps until the second push's first read";
  }
  EXPECT_TRUE(seen) << "no seed of 64 drew a 20-packet push and a 2-packet one after it";
}

// A BBR sender's TSO burst reaches the receiver as one packet, and the receiver
// acknowledges each such packet once: a lone push whose bursts are five segments (GSO
// packets of 8 KB) gets one ACK per five segments; with bursts of two (a GSO size of two
// segments and TCP's header room), one per two, as RFC 1122's delayed ACK does.
TEST(PacketLink, BbrReceiverAcknowledgesEachTsoBurstOnce) {
  const std::uint64_t s = 1448, m = 220 * s;
  auto acks = [&](std::uint64_t gso) {
    PacketLink link(PacketLinkSpec{.rate = 12.5e6, .flow_cap = 12.5e6, .segment = s, .seed = 3, .bbr = true,
                                   .base_rtt = 32e-6, .gso_max_size = gso});
    link.add(0, Dir::Into, m, 0);
    EXPECT_EQ(link.sender(Dir::Into, 0)->tso_burst(), (gso == 8192 ? 5 : 2) * s) << gso;
    drain(link);
    // ACK packets served at the shard's egress: the last may still wait there when the
    // flow completes (its last byte is in).
    return static_cast<double>(link.segments() - 220);
  };
  // A few bursts are cut short (by the window in startup, at the message's end).
  EXPECT_GE(acks(8192), 220 / 5 - 1);
  EXPECT_LE(acks(8192), 220 / 5 + 3);
  EXPECT_GE(acks(2 * s + 321 + 1), 220 / 2 - 1);
  EXPECT_LE(acks(2 * s + 321 + 1), 220 / 2 + 1);
}

synclab::RunConfig timing(const std::vector<std::string>& extra) {
  std::vector<std::string> o = {"model=mlp", "sim.mode=timing", "train.eval_every=0", "cluster.link.bandwidth=100Mbps",
                                "cluster.link.latency=50us"};
  o.insert(o.end(), extra.begin(), extra.end());
  return synclab::load_run_config("", o);
}

nlohmann::json simulate(const synclab::RunConfig& config, const fs::path& dir) {
  const std::string r = run_in_child([&] {
    synclab::sim::testing::simulate_quietly(config, dir);
    std::ifstream in(dir / "updates.csv");
    std::stringstream csv;
    csv << in.rdbuf();
    std::ifstream s(dir / "summary.json");
    std::stringstream ss;
    ss << s.rdbuf();
    nlohmann::json j = nlohmann::json::parse(ss.str());
    j["updates_csv"] = csv.str();
    return j.dump();
  });
  return nlohmann::json::parse(r);
}

// Three identical async workers: the fluid model keeps them in lockstep (all push, then all
// wait for replies, each direction idle half the time); with packets (the data path alone,
// ACKs free), the reply queued first stays ahead, and the workers settle into a pipeline
// (one pushes while another receives).
TEST(PacketNetwork, AsyncWorkersDriftIntoAPipeline) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-" + std::to_string(::getpid()));
  std::map<std::string, nlohmann::json> s;
  for (const std::string model : {"star", "packet"})
    s[model] = simulate(timing({"policy.name=async", "cluster.workers=3", "train.stop.updates=300", "sim.network=" + model,
                                "sim.packet.acks=free"}),
                        root / model);
  EXPECT_EQ(s["packet"]["network_model"].get<std::string>().rfind("packet", 0), 0u) << s["packet"]["network_model"];
  const double bytes = s["star"]["param_bytes"].get<double>(), rate = 12.5e6;
  const double fluid = s["star"]["time_s"].get<double>(), packet = s["packet"]["time_s"].get<double>();
  // Lockstep: every three updates cost 2 x 3 M / B; a full pipeline: 3 x M / B.
  EXPECT_NEAR(fluid, 100 * 6 * bytes / rate, 0.05 * fluid);
  EXPECT_LT(packet, 0.75 * fluid);
  EXPECT_GT(packet, 100 * 3 * bytes / rate);
  // Same config, same simulated run.
  const auto again = simulate(timing({"policy.name=async", "cluster.workers=3", "train.stop.updates=300",
                                      "sim.network=packet", "sim.packet.acks=free"}),
                              root / "again");
  EXPECT_EQ(again["updates_csv"], s["packet"]["updates_csv"]);
  EXPECT_EQ(again["time_s"], s["packet"]["time_s"]);
  std::error_code ec;
  fs::remove_all(root, ec);
}

// Two identical async workers start in the same instant (ACKs free, the data path alone).
// With one fixed window the packet model keeps them near lockstep (their replies share the link in blocks of the window);
// with windows drawn per transfer from measured ones (here what Linux's BBR kept on a
// 100 Mbit/s shaped link: 40 to 184 segments) one reply gets ahead, and the workers settle
// into the pipeline real TCP flows reach: about one message time per update.
TEST(PacketNetwork, MeasuredWindowsLetSymmetricWorkersPipeline) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-windows-" + std::to_string(::getpid()));
  const std::vector<std::string> job = {"policy.name=async", "cluster.workers=2", "train.stop.updates=200", "sim.network=packet",
                                        "sim.packet.acks=free"};
  auto with = [&](const std::string& extra) {
    auto o = job;
    o.push_back(extra);
    return o;
  };
  const auto fixed = simulate(timing(with("sim.packet.window=14480")), root / "fixed");
  const auto drawn = simulate(
      timing(with("sim.packet.windows=[199824, 266432, 92672, 57920, 72400, 246160, 208512, 251952, 99912, 133216]")),
      root / "drawn");
  const double message = fixed["param_bytes"].get<double>() / 12.5e6;  // one message on the wire, s
  const double t_fixed = fixed["time_s"].get<double>() / 200, t_drawn = drawn["time_s"].get<double>() / 200;
  EXPECT_GT(t_fixed, 1.8 * message) << "fixed window: near lockstep, two messages per update";
  EXPECT_LT(t_drawn, 1.25 * message) << "drawn windows: a pipeline, one message per update";
  EXPECT_GT(t_drawn, message);
  const auto again = simulate(
      timing(with("sim.packet.windows=[199824, 266432, 92672, 57920, 72400, 246160, 208512, 251952, 99912, 133216]")),
      root / "again");
  EXPECT_EQ(again["updates_csv"], drawn["updates_csv"]);
  std::error_code ec;
  fs::remove_all(root, ec);
}

// BBR windows with queued ACKs: two identical async workers. With every transfer's window
// what BBR keeps for a lone flow here (34 segments), a push whose ACKs wait behind a reply
// stalls, and the workers fall into pairs of updates (about two message times per
// update); with BBR's windows per connection, the pushes' ACKs come back in bunches after
// each wait, their windows grow by them, and the workers keep a pipeline (here 1.07
// message times per update; on the testbed, 1.17: 29.6 ms per update against 25.4 ms per
// message, docs/fidelity.md). The same config repeats.
TEST(PacketNetwork, BbrWindowsLetTwoIdenticalWorkersPipelineWithQueuedAcks) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-bbr-" + std::to_string(::getpid()));
  const std::vector<std::string> job = {"policy.name=async", "cluster.workers=2", "train.stop.updates=200",
                                        "sim.network=packet", "cluster.link.latency=32us"};
  auto with = [&](const std::string& extra) {
    auto o = job;
    o.push_back(extra);
    return o;
  };
  const auto lone = simulate(timing(with("sim.packet.window=49232")), root / "lone");
  const auto bbr = simulate(timing(with("sim.packet.congestion=bbr")), root / "bbr");
  EXPECT_NE(bbr["network_model"].get<std::string>().find("BBR"), std::string::npos) << bbr["network_model"];
  const double message = lone["param_bytes"].get<double>() / 12.5e6;
  const double t_lone = lone["time_s"].get<double>() / 200, t_bbr = bbr["time_s"].get<double>() / 200;
  EXPECT_GT(t_lone, 1.8 * message) << "lone-flow windows: near lockstep, two messages per update";
  EXPECT_LT(t_bbr, 1.2 * message) << "BBR's windows: a pipeline, about one message per update";
  EXPECT_GT(t_bbr, message);
  const auto again = simulate(timing(with("sim.packet.congestion=bbr")), root / "again");
  EXPECT_EQ(again["updates_csv"], bbr["updates_csv"]);
  std::error_code ec;
  fs::remove_all(root, ec);
}

// BBR windows under every policy, with a worker lost mid-run (its connections dropped with
// their flows in flight): each run reaches its limit, the lost worker is reported, and the
// same config gives the same run.
TEST(PacketNetwork, BbrWindowsRunEveryPolicyThroughAFailure) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-bbr-fail-" + std::to_string(::getpid()));
  for (const std::string policy : {"bsp", "async", "ssp", "backup", "local-sgd"}) {
    const auto config = timing({"policy.name=" + policy, "policy.on_worker_lost=continue", "cluster.workers=4",
                                "train.stop.updates=60", "sim.network=packet", "sim.packet.congestion=bbr",
                                "cluster.failures=[{worker: 1, at: 0.1}]"});
    const auto a = simulate(config, root / (policy + "-a"));
    EXPECT_EQ(a["updates"].get<int>(), 60) << policy;
    EXPECT_TRUE(a["per_worker"][1]["failed"].get<bool>()) << policy;
    EXPECT_EQ(simulate(config, root / (policy + "-b"))["updates_csv"], a["updates_csv"]) << policy;
  }
  std::error_code ec;
  fs::remove_all(root, ec);
}

// Queued ACKs (the default): a push's ACKs wait behind the replies queued at the shard's
// egress and a reply's behind the pushes at its ingress. Three async workers whose windows
// (10 packets) are no larger than what the other direction has queued stall on their ACKs
// and lose far more than the ACKs' own bytes; with windows of a whole message nothing
// waits for an ACK, and only the ACKs' 66 bytes per two packets (2.3%) remain.
TEST(PacketNetwork, QueuedAcksHoldBackWindowsSmallerThanTheReverseQueue) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-acks-" + std::to_string(::getpid()));
  auto time_s = [&](const std::string& window, const std::string& acks) {
    return simulate(timing({"policy.name=async", "cluster.workers=3", "train.stop.updates=300", "sim.network=packet",
                            "sim.packet.window=" + window, "sim.packet.acks=" + acks}),
                    root / (window + acks))["time_s"]
        .get<double>();
  };
  const double small_free = time_s("14480", "free"), small_queued = time_s("14480", "queued");
  EXPECT_GT(small_queued, 1.5 * small_free);
  const double whole_free = time_s("320000", "free"), whole_queued = time_s("320000", "queued");
  EXPECT_GT(whole_queued, whole_free);
  EXPECT_LT(whole_queued, 1.03 * whole_free);
  std::error_code ec;
  fs::remove_all(root, ec);
}

// Two bsp workers whose replies leave together, each window the whole message: the second
// reply waits one message time M / B at the shard's egress before its first byte arrives,
// while the first worker's next push comes in; the second's push follows, and a round
// lasts 3 M / B. The queued reply's message time is waiting, as a real worker counts it
// (its read returns nothing yet), and so is the first worker's wait for the second push:
// each worker communicates 2 M / B per update (its reply, its push) and waits M / B,
// whichever reply goes first. (Counted from the reply's start, the second worker's reply
// would be 2 M / B of communication.)
TEST(PacketNetwork, AReplyQueuedBehindAnotherIsWaitNotCommunication) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-split-" + std::to_string(::getpid()));
  const int updates = 20;
  const auto s = simulate(timing({"policy.name=bsp", "cluster.workers=2", "train.stop.updates=" + std::to_string(updates),
                                  "sim.network=packet", "sim.packet.acks=free", "sim.packet.window=400000"}),
                          root / "bsp");
  const double message = s["param_bytes"].get<double>() / 12.5e6, time = s["time_s"].get<double>();
  EXPECT_NEAR(time, updates * 3 * message, 0.02 * time);
  for (const auto& w : s["per_worker"]) {
    const double comm = w["communicate_s"].get<double>(), wait = w["wait_s"].get<double>();
    // Within the last round, which the stop cuts short (it counts no part of it).
    EXPECT_NEAR(comm, updates * 2 * message, 1.5 * message) << w.dump();
    EXPECT_NEAR(wait, updates * message, 1.5 * message) << w.dump();
    // The three add up to the run but for that round.
    const double sum = w["compute_s"].get<double>() + wait + comm;
    EXPECT_LE(sum, time * (1 + 1e-9)) << w.dump();
    EXPECT_GT(sum, time - 3 * message) << w.dump();
  }
  std::error_code ec;
  fs::remove_all(root, ec);
}

// bsp re-synchronises the workers at every barrier: both models give nearly the same time.
TEST(PacketNetwork, BspCloseToTheFluidModel) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-packet-bsp-" + std::to_string(::getpid()));
  std::map<std::string, double> t;
  for (const std::string model : {"star", "packet"})
    t[model] = simulate(timing({"policy.name=bsp", "cluster.workers=4", "train.stop.updates=20", "sim.network=" + model}),
                        root / model)["time_s"]
                   .get<double>();
  EXPECT_NEAR(t["packet"], t["star"], 0.05 * t["star"]);
  std::error_code ec;
  fs::remove_all(root, ec);
}

TEST(PacketNetwork, ChoiceAndConfigErrorsNameTheKey) {
  using synclab::sim::choose_network;
  EXPECT_EQ(choose_network(timing({"sim.network=packet"}), {}).model, "packet");
  try {
    choose_network(timing({"sim.network=packet", "cluster.servers=2"}), {});
    ADD_FAILURE() << "packet with two shards was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.network");
  }
  EXPECT_THROW(choose_network(timing({"sim.network=packet"}), {"network/model:LV08"}), synclab::ConfigError);
  try {
    synclab::load_run_config("", {"sim.packet.segment=9000", "sim.packet.window=10000"});
    ADD_FAILURE() << "a window under two packets was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.packet.window");
  }
  try {
    synclab::load_run_config("", {"sim.packet.windows=[20000, 2000]"});
    ADD_FAILURE() << "a measured window under two packets was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.packet.windows");
    EXPECT_NE(std::string(e.what()).find("2000 bytes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synclab::load_run_config("", {"sim.packet.segment=0"}), synclab::ConfigError);
  try {
    synclab::load_run_config("", {"sim.packet.congestion=cubic"});
    ADD_FAILURE() << "an unknown sim.packet.congestion was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.packet.congestion");
  }
  try {
    synclab::load_run_config("", {"sim.packet.acks=late"});
    ADD_FAILURE() << "an unknown sim.packet.acks was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.packet.acks");
  }
}

}  // namespace

// A NIC shaped as tc tbf: after an idle spell its bucket's bytes leave at once, then the
// rate holds, so a message of M bytes takes (M - burst) / rate; after a shorter spell the
// bucket holds what the rate refilled.
TEST(PacketLink, ABucketLetsItsBytesGoAtOnceThenTheRateHolds) {
  const std::uint64_t s = 1448, m = 220 * s, burst = 16384;
  const double rate = 12.5e6;
  auto spec = [&](std::uint64_t b) {
    return PacketLinkSpec{.rate = rate, .segment = s, .window = 1 << 30, .ack_bytes = 0, .ack_every = 1,
                          .acks_queued = false, .burst = b};
  };
  PacketLink shaped(spec(burst)), plain(spec(0));
  auto finish = [](PacketLink& link, double start) {
    const auto id = link.add(start, Dir::OutOf, m);
    const double t = link.next_completion();
    EXPECT_EQ(link.complete(t, 0), std::vector<PacketLink::FlowId>{id});
    return t - start;
  };
  EXPECT_NEAR(finish(plain, 0), static_cast<double>(m) / rate, 1e-12);
  const double first = finish(shaped, 0);
  EXPECT_NEAR(first, static_cast<double>(m - burst) / rate, 1e-9);
  // Idle for half the bucket's refill: half a bucket is back.
  const double idle = 0.5 * static_cast<double>(burst) / rate;
  EXPECT_NEAR(finish(shaped, first + idle), (static_cast<double>(m) - 0.5 * burst) / rate, 1e-9);
}

// Two replies that leave the shard 2 ms apart, every 50 ms, with BBR senders: through
// shaped NICs their delivery-rate samples see the buckets' bursts, the estimate runs far
// above the link and so does the small-queue limit, and the first reply keeps its place
// ahead of the second (on the testbed, 100 Mbit/s tbf with 16 KB buckets: the first done
// after 29 ms, the second after 52 ms, one message time apart); without buckets the
// estimate is the link's, the limit two bursts, and the two interleave and end together.
TEST(PacketLink, BucketsLetRepliesThatLeaveTogetherGoOneAfterTheOther) {
  const std::uint64_t m = 318040;
  const double rate = 11.97e6;  // the payload rate of 100 Mbit/s in 1514-byte frames
  auto replies = [&](std::uint64_t burst) {
    PacketLink link(PacketLinkSpec{.rate = rate, .flow_cap = rate, .seed = 7, .bbr = true, .base_rtt = 68e-6,
                                   .gso_max_size = 8192, .small_queues = true, .burst = burst});
    std::vector<double> first, second;
    for (int round = 0; round < 20; ++round) {
      const double t0 = round * 0.1;
      const auto a = link.add(t0, Dir::OutOf, m, 0);
      double now = t0;
      std::map<PacketLink::FlowId, double> done;
      bool b_started = false;
      PacketLink::FlowId b = 0;
      while (done.size() < 2) {
        const double next = link.next_completion();
        if (!b_started && next > t0 + 0.002) {
          b = link.add(t0 + 0.002, Dir::OutOf, m, 1);
          b_started = true;
          continue;
        }
        now = next;
        for (auto f : link.complete(now, 0)) done[f] = now - t0;
      }
      first.push_back(done[a]);
      second.push_back(done[b]);
    }
    std::sort(first.begin(), first.end());
    std::sort(second.begin(), second.end());
    return std::make_tuple(first[first.size() / 2], second[second.size() / 2], link.sender(Dir::OutOf, 0)->bandwidth());
  };
  const double message = static_cast<double>(m) / rate;  // 26.6 ms
  const auto [a16, b16, bw16] = replies(16384);
  EXPECT_GT(bw16, 3 * rate) << "the estimate sees the buckets' bursts";
  EXPECT_LT(a16, 1.25 * message) << "the first reply keeps its place";
  EXPECT_NEAR(b16, 2 * message, 0.1 * message);
  const auto [a0, b0, bw0] = replies(0);
  EXPECT_LT(bw0, 1.3 * rate);
  EXPECT_GT(a0, 0.9 * b0) << "without buckets the two interleave and end together";
  EXPECT_NEAR(b0, 2 * message, 0.1 * message);
}

// The link leaves the path's latency out of each packet's time, but a sender sees every ACK
// a round trip of the path after its segment left, as Linux's BBR does. A reply after each
// idle spell through a shaper's bucket: the bucket's bytes leave at once and are
// acknowledged a round trip later, so no delivery-rate sample can read more than the
// bucket over that round trip plus the rate, and the min RTT stays the path's.
TEST(PacketLink, BbrSamplesCarryThePathsRoundTrip) {
  const std::uint64_t m = 318040, burst = 16384;
  const double rate = 11.97e6, rtt = 68e-6;
  PacketLink link(PacketLinkSpec{.rate = rate, .flow_cap = rate, .seed = 7, .bbr = true, .base_rtt = rtt,
                                 .gso_max_size = 8192, .small_queues = true, .burst = burst});
  for (int round = 0; round < 20; ++round) {
    const auto id = link.add(round * 0.1, Dir::OutOf, m, 0);
    for (bool done = false; !done;)
      for (auto f : link.complete(link.next_completion(), 0)) done = done || f == id;
  }
  const auto* sender = link.sender(Dir::OutOf, 0);
  ASSERT_NE(sender, nullptr);
  EXPECT_DOUBLE_EQ(sender->min_rtt(), rtt) << "a queued or instant ACK never reads below the path's round trip";
  EXPECT_GT(sender->bandwidth(), 2 * rate) << "the bucket's bytes still read faster than the link";
  EXPECT_LE(sender->bandwidth(), static_cast<double>(burst) / rtt + rate);
}
