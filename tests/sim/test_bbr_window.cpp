// BBR's congestion window (sim/bbr_window.hpp) driven by a lone sender over one path in
// closed form: a fresh connection's window, startup growing it by what each ACK covers,
// steady ACKs settling it at 2 BDP plus three TSO bursts (sized as Linux's BBR sizes them,
// not as the interface sends them), and ACKs held back and released together growing it
// until it covers the time they were held.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>

#include "sim/bbr_window.hpp"

using synclab::sim::BbrSent;
using synclab::sim::BbrWindow;

namespace {

constexpr std::uint64_t kMss = 1448;

// One sender, a FIFO bottleneck of `rate` bytes/s, `delay` s of propagation both ways, an
// ACK per segment. With `hold` > 0 the ACKs of every other spell of `hold` seconds are
// held and released together at its end (as ACKs wait behind a message queued the other way).
struct Path {
  Path(double r, double d, double h = 0) : rate(r), delay(d), hold(h) {}
  double rate, delay, hold;
  double link_free = 0;
  struct Ack {
    double time;
    BbrSent record;
  };
  std::deque<Ack> acks;

  double ack_time(double arrival) const {
    const double back = arrival + delay;
    if (hold <= 0) return back;
    // Held in every other spell of `hold` seconds, released at its end.
    const double phase = std::fmod(back, 2 * hold);
    return phase < hold ? back - phase + hold : back;
  }
  // Sends `total` bytes as fast as the window lets; returns the time the last ACK is in.
  double run(BbrWindow& w, std::uint64_t total, double start = 0) {
    double now = start;
    std::uint64_t sent = 0, in_flight = 0;
    while (sent < total || !acks.empty()) {
      while (sent < total && (in_flight == 0 || in_flight + kMss <= w.cwnd())) {
        const BbrSent r = w.sent(now, in_flight);
        link_free = std::max(link_free, now) + static_cast<double>(kMss) / rate;
        acks.push_back(Ack{ack_time(link_free + delay), r});
        sent += kMss;
        in_flight += kMss;
        if (sent >= total) w.out_of_data(in_flight);
      }
      const Ack a = acks.front();
      acks.pop_front();
      now = a.time;
      in_flight -= kMss;
      w.acked(now, kMss, a.record, in_flight + kMss);
    }
    return now;
  }
};

std::uint64_t even_segments(double bytes) {
  auto s = static_cast<std::uint64_t>(std::ceil(bytes / static_cast<double>(kMss)));
  return (s + s % 2) * kMss;
}

}  // namespace

TEST(BbrWindow, AFreshConnectionHasTenSegmentsAndNoEstimates) {
  const BbrWindow w(kMss);
  EXPECT_EQ(w.cwnd(), 10 * kMss);
  EXPECT_EQ(w.bandwidth(), 0.0);
  EXPECT_TRUE(std::isinf(w.min_rtt()));
  EXPECT_FALSE(w.full_bandwidth());
  EXPECT_EQ(w.aggregation(), 0u);
}

TEST(BbrWindow, StartupGrowsTheWindowByEveryAckedSegment) {
  // A fresh sender on a fast path: each ACK of a segment opens room for two, so the window
  // doubles every round trip until startup's target (TSO bursts at their cap) stops it.
  BbrWindow w(kMss);
  Path p(1.25e9, 100e-6);
  p.run(w, 10 * kMss);
  EXPECT_EQ(w.cwnd(), 20 * kMss);
  p.run(w, 20 * kMss, 1.0);
  EXPECT_EQ(w.cwnd(), 40 * kMss);
}

TEST(BbrWindow, SteadyAcksSettleAtTwoBdpAndThreeTsoBursts) {
  // 100 Mb/s and 50 us each way: after startup and drain the bandwidth estimate is the
  // link's rate, the min RTT one segment's time on the link plus the two delays, the pacing
  // rate the estimate times the cycle's gain (less 1%), and the window 2 x rate x min RTT
  // plus three bursts of 1 ms of pacing (6-10 segments each), in even segments, plus what
  // steady ACKs add as aggregation (a segment or two at most) and 2 segments when probing.
  BbrWindow w(kMss);
  Path p(12.5e6, 50e-6);
  p.run(w, 40'000'000);
  ASSERT_TRUE(w.full_bandwidth());
  EXPECT_NEAR(w.bandwidth(), p.rate, 0.01 * p.rate);
  EXPECT_NEAR(w.min_rtt(), static_cast<double>(kMss) / p.rate + 2 * p.delay, 1e-9);
  const double gain = w.pacing_gain();
  EXPECT_TRUE(gain == 1.25 || gain == 0.75 || gain == 1.0) << gain;
  EXPECT_DOUBLE_EQ(w.pacing_rate(), w.bandwidth() * gain * 0.99);
  // The window follows the cycle's pacing rate (growing by each ACK's bytes), so it lies
  // between its targets for the draining and the probing phases.
  auto target = [&](double g) {
    const auto tso = static_cast<std::uint64_t>(w.bandwidth() * g * 0.99 / 1024) / kMss * kMss;
    return even_segments(std::ceil(2 * w.bandwidth() * w.min_rtt()) + 3.0 * static_cast<double>(tso));
  };
  EXPECT_EQ(target(0.75), 22 * kMss);
  EXPECT_EQ(target(1.25), 34 * kMss);
  EXPECT_GE(w.cwnd(), target(0.75));
  EXPECT_LE(w.cwnd(), target(1.25) + 6 * kMss) << "aggregation " << w.aggregation();
}

TEST(BbrWindow, GsoSizeCapsTheBurstsAndSmallQueuesHoldOneMsOrTwoBursts) {
  // 1 Gb/s: 1 ms of pacing is ~120 KB, above a 64 KB GSO packet, so a burst is what the GSO
  // size leaves after TCP's header room (45 segments at 65536, 5 at 8192, as tcp_tso_autosize
  // computes), and the small-queue limit is the larger of two bursts and 1 ms of pacing.
  for (const auto& [gso, segments] : {std::pair<std::uint64_t, std::uint64_t>{65536, 45}, {8192, 5}}) {
    BbrWindow w(kMss, 0, 0, gso);
    Path p(125e6, 20e-6);
    p.run(w, 40'000'000);
    ASSERT_TRUE(w.full_bandwidth());
    ASSERT_GT(w.pacing_rate() / 1024, static_cast<double>(gso)) << gso;
    EXPECT_EQ(w.tso_burst(), segments * kMss) << gso;
    EXPECT_EQ(w.small_queue_limit(),
              std::max<std::uint64_t>(2 * w.tso_burst(), static_cast<std::uint64_t>(w.pacing_rate() / 1024)))
        << gso;
  }
}

TEST(BbrWindow, TheWindowKeepsRoomForBurstsOf64KbWhateverTheGsoSize) {
  // 1 Gb/s with 8 KB GSO packets (the testbed's): the bursts sent are 5 segments, but the
  // window's target counts three bursts as bbr_tso_segs_goal sizes them, capped at 64 KB
  // (45 segments): 2 BDP + 135 segments, where 3 sent bursts would give 2 BDP + 15. The
  // sender's estimate is the link, so every phase of the cycle asks for the cap.
  BbrWindow w(kMss, 0, 0, 8192);
  Path p(125e6, 20e-6);
  p.run(w, 40'000'000);
  ASSERT_TRUE(w.full_bandwidth());
  ASSERT_GT(w.bandwidth() * 0.75 * 0.99 / 1024, 65536.0);
  EXPECT_EQ(w.tso_burst(), 5 * kMss);
  EXPECT_EQ(w.budget_burst(), 45 * kMss);
  const std::uint64_t target = even_segments(std::ceil(2 * w.bandwidth() * w.min_rtt()) + 135.0 * kMss);
  EXPECT_GE(w.cwnd(), target);
  EXPECT_LE(w.cwnd(), target + 2 * kMss + w.aggregation() + kMss);
}

TEST(BbrWindow, AFreshSenderPacesAtTenSegmentsPerHandshakeRoundTrip) {
  // bbr_init_pacing_rate_from_rtt: 2.885 x 10 segments per handshake round trip, less 1%
  // (1 ms without one). On a LAN that is far above the link, so a burst is at its GSO cap
  // and the small-queue limit is 1 ms of that rate: hundreds of KB, not two bursts.
  const BbrWindow lan(kMss, 0, 68e-6, 8192);
  const double rate = 2.885 * 0.99 * 10 * kMss / 68e-6;
  EXPECT_DOUBLE_EQ(lan.pacing_rate(), rate);
  EXPECT_EQ(lan.tso_burst(), 5 * kMss);
  EXPECT_EQ(lan.small_queue_limit(), static_cast<std::uint64_t>(rate / 1024));
  EXPECT_GT(lan.small_queue_limit(), 400'000u);
  EXPECT_DOUBLE_EQ(BbrWindow(kMss).pacing_rate(), 2.885 * 0.99 * 10 * kMss / 1e-3);
}

TEST(BbrWindow, StartupNeverLowersThePacingRate) {
  // Samples of a 100 Mb/s path give 2.885 x 12.5 MB/s, below the first rate: startup keeps
  // the first one (bbr_set_pacing_rate raises it only); once startup ends it follows the estimate.
  BbrWindow w(kMss, 0, 100e-6, 8192);
  const double first = w.pacing_rate();
  Path p(12.5e6, 50e-6);
  const double end = p.run(w, 20 * kMss);
  ASSERT_FALSE(w.full_bandwidth());
  EXPECT_LT(w.bandwidth() * 2.885, first);
  EXPECT_DOUBLE_EQ(w.pacing_rate(), first);
  p.run(w, 40'000'000, end);
  ASSERT_TRUE(w.full_bandwidth());
  EXPECT_LT(w.pacing_rate(), 1.3 * p.rate);
}

TEST(BbrWindow, AcksHeldBackGrowTheWindowUntilItCoversTheHold) {
  // The same link, but every other 20 ms the ACKs are held and come back in a bunch: each
  // bunch is acknowledged beyond what the bandwidth estimate explains, so the window grows
  // by it, round after round, until the sender keeps the link busy through a hold (rate x
  // 20 ms = 250 KB).
  BbrWindow steady(kMss), held(kMss);
  Path a(12.5e6, 50e-6);
  Path b(12.5e6, 50e-6, 20e-3);
  const double t_steady = a.run(steady, 40'000'000);
  const double t_held = b.run(held, 40'000'000);
  EXPECT_LT(steady.cwnd(), 60'000u);
  EXPECT_LT(steady.aggregation(), 4 * kMss);
  // The growth is the aggregation term, not the BDP: the free spells keep the min RTT short.
  EXPECT_LT(held.min_rtt(), 1e-3);
  EXPECT_GE(held.aggregation(), static_cast<std::uint64_t>(0.9 * b.rate * b.hold));
  EXPECT_GE(held.cwnd(), held.aggregation());
  // The grown window keeps the held path nearly as fast as the steady one.
  EXPECT_LT(t_held, 1.05 * t_steady);
}
