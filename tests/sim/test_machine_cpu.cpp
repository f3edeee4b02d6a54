// The shared machine's cores one by one (sim/machine_cpu.hpp), in closed form: a process's
// pieces of work spread over idle cores and share the one they land on; a transfer's
// kernel work takes its pace's share of its core before any process there and leaves the
// other cores alone; ties are drawn from the seed, the same way every time.
#include <gtest/gtest.h>

#include <simgrid/s4u.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/machine_cpu.hpp"
#include "sim/network_model.hpp"
#include "tests/sim/machine_cores.hpp"

namespace sg = simgrid::s4u;
using synclab::sim::testing::parse_times;
using synclab::sim::testing::run_on_cores;
using synclab::sim::testing::times_text;

namespace {

// A piece of work: a process's (kernel = false) or a transfer's kernel work, started at
// `at`; its owner waits for it at once, or (waited = false) only at 100 s, as the
// simulator waits for an evaluation or for a transfer's kernel work.
struct Piece {
  double seconds;
  bool kernel;
  double at = 0;
  bool waited = true;
  int woken = -1;  // >= 0: its process was just woken by packets this core moved
};

// Starts the pieces in order on a machine of `cores` cores and returns when each ended, in
// the pieces' order, as text (the child's answer); a piece not waited for at once reads -1.
std::string run(int cores, double kernel_rate, std::uint64_t seed, const std::vector<Piece>& pieces,
                double wake_on_busy = 0) {
  return run_on_cores(cores, [&](const std::vector<sg::Host*>& hosts, sg::Engine& engine) {
    auto cpu = std::make_shared<synclab::sim::MachineCpu>(hosts, kernel_rate, seed, wake_on_busy);
    auto ends = std::make_shared<std::vector<double>>(pieces.size(), -1.0);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      sg::Actor::create("piece-" + std::to_string(i), hosts[0], [=] {
        const Piece& p = pieces[i];
        sg::this_actor::sleep_until(p.at);
        if (p.woken >= 0) cpu->woken_on(static_cast<std::size_t>(p.woken));
        sg::ExecPtr e = p.kernel ? cpu->start_kernel(p.seconds, cpu->open_kernel()) : cpu->start(p.seconds);
        if (!p.waited) sg::this_actor::sleep_until(100);
        e->wait();
        if (p.waited) (*ends)[i] = sg::Engine::get_clock();
      });
    }
    engine.run();
    return times_text(*ends);
  });
}

// The pieces' end times; a child that did not answer with one per piece fails the test
// and shows what it said instead (the caller's size check then stops it).
std::vector<double> ends_of(int cores, double kernel_rate, std::uint64_t seed, const std::vector<Piece>& pieces,
                            double wake_on_busy = 0) {
  const std::string answer = run(cores, kernel_rate, seed, pieces, wake_on_busy);
  auto ends = parse_times(answer);
  if (ends.size() != pieces.size()) ADD_FAILURE() << answer;
  return ends;
}

constexpr double kTol = 1e-6;  // SimGrid's sharing solver works to about 1e-9 of a second here

// Over seeds 1-16, each run twice (it must repeat): how many seeds ended the last piece at
// `one` and how many at `other`; an end at neither fails the test.
std::pair<int, int> last_ends_over_seeds(int cores, double kernel_rate, const std::vector<Piece>& pieces,
                                         double wake_on_busy, double one, double other) {
  std::pair<int, int> counts{0, 0};
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    const std::string a = run(cores, kernel_rate, seed, pieces, wake_on_busy);
    EXPECT_EQ(a, run(cores, kernel_rate, seed, pieces, wake_on_busy)) << "seed " << seed;
    const auto e = parse_times(a);
    if (e.size() != pieces.size()) {
      ADD_FAILURE() << a;
      continue;
    }
    if (std::abs(e.back() - one) < kTol) ++counts.first;
    else if (std::abs(e.back() - other) < kTol) ++counts.second;
    else ADD_FAILURE() << "seed " << seed << ": the last piece ended at " << e.back();
  }
  return counts;
}

}  // namespace

// Two pieces on one core take twice as long; on two cores each has a core; a third piece
// joins one of them there (the core it lands on is shared, the other stays whole).
TEST(MachineCpu, PiecesSpreadOverIdleCoresAndShareTheOneTheyLandOn) {
  auto one = ends_of(1, 0, 1, {{1, false}, {1, false}});
  ASSERT_EQ(one.size(), 2u);
  EXPECT_NEAR(one[0], 2, kTol);
  EXPECT_NEAR(one[1], 2, kTol);
  auto two = ends_of(2, 0, 1, {{1, false}, {1, false}});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NEAR(two[0], 1, kTol);
  EXPECT_NEAR(two[1], 1, kTol);
  auto three = ends_of(2, 0, 1, {{1, false}, {1, false}, {1, false}});
  ASSERT_EQ(three.size(), 3u);
  std::sort(three.begin(), three.end());
  EXPECT_NEAR(three[0], 1, kTol);
  EXPECT_NEAR(three[1], 2, kTol);
  EXPECT_NEAR(three[2], 2, kTol);
}

// Kernel work paced at 3/4 of a core (0.75 s of it lasts 1 s) leaves a process on its
// core a quarter of the core meanwhile, not the half a fair share would: a 1 s step ends
// at 1.75 s. Unpaced (a rate of a whole core or more), the kernel takes the whole core
// first: the kernel ends at 0.5 s, the step at 1.5 s.
TEST(MachineCpu, KernelWorkGoesBeforeTheProcessOnItsCore) {
  auto paced = ends_of(1, 0.75, 1, {{0.75, true}, {1, false}});
  ASSERT_EQ(paced.size(), 2u);
  EXPECT_NEAR(paced[0], 1.0, kTol);
  EXPECT_NEAR(paced[1], 1.75, kTol);
  auto whole = ends_of(1, 2.0, 1, {{0.5, true}, {1, false}});
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_NEAR(whole[0], 0.5, 1e-5);  // the process keeps a millionth of the core meanwhile
  EXPECT_NEAR(whole[1], 1.5, kTol);
}

// Two cores, one transfer's kernel work (half a core) and two steps: the steps take a core
// each, since a core in softirq looks idle to the scheduler; the one that shares the
// kernel's core ends at 1.5 s, the other at 1 s. Two transfers take a core each.
TEST(MachineCpu, KernelWorkSlowsOnlyTheCoreItRunsOn) {
  auto e = ends_of(2, 0.5, 1, {{0.5, true}, {1, false}, {1, false}});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_NEAR(e[0], 1.0, kTol);
  EXPECT_NEAR(std::min(e[1], e[2]), 1.0, kTol);
  EXPECT_NEAR(std::max(e[1], e[2]), 1.5, kTol);
  auto k = ends_of(2, 1.0, 1, {{1, true}, {1, true}});
  ASSERT_EQ(k.size(), 2u);
  EXPECT_NEAR(k[0], 1.0, 1e-5);
  EXPECT_NEAR(k[1], 1.0, 1e-5);
}

// A step that starts beside a transfer's kernel work on two idle cores lands on either:
// the seed decides, the same way every time, and some seeds choose each.
TEST(MachineCpu, TiesAreDrawnFromTheSeed) {
  const auto [shared, alone] = last_ends_over_seeds(2, 0.5, {{0.5, true}, {1, false}}, 0, 1.5, 1.0);
  EXPECT_GT(shared, 0);
  EXPECT_GT(alone, 0);
}

// A piece that ended, though nobody has waited for it yet, no longer holds its core: two
// steps that start after it take a core each, whatever the seed (counting it would put
// both on the other core for some seeds).
TEST(MachineCpu, WorkThatEndedUnwaitedLeavesItsCore) {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    const std::vector<Piece> pieces = {{1, false, 0, false}, {1, false, 2}, {1, false, 2}};
    const auto e = ends_of(2, 0.5, seed, pieces);
    ASSERT_EQ(e.size(), 3u);
    EXPECT_NEAR(e[1], 3, kTol) << "seed " << seed;
    EXPECT_NEAR(e[2], 3, kTol) << "seed " << seed;
  }
}

// Two cores. A 1 s step woken on core 0 runs there; a 0.5 s piece woken on core 0 at
// 0.25 s, while the step runs there and core 1 idles: where woken threads wait for their
// waker's core (wake_on_busy 1) it starts when the step ends and ends at 1.5 s; where the
// kernel finds the idle core (0: the default) it ends at 0.75 s. A wake-up on an idle
// core starts at once.
TEST(MachineCpu, AThreadWokenOnABusyCoreWaitsForItWhereTheKernelLeavesItThere) {
  const std::vector<Piece> pieces = {{1, false, 0, true, 0}, {0.5, false, 0.25, true, 0}};
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto waits = ends_of(2, 0, seed, pieces, 1.0);
    ASSERT_EQ(waits.size(), 2u);
    EXPECT_NEAR(waits[0], 1, kTol) << "seed " << seed;
    EXPECT_NEAR(waits[1], 1.5, kTol) << "seed " << seed;
    const auto moves = ends_of(2, 0, seed, pieces, 0.0);
    ASSERT_EQ(moves.size(), 2u);
    EXPECT_NEAR(moves[0], 1, kTol) << "seed " << seed;
    EXPECT_NEAR(moves[1], 0.75, kTol) << "seed " << seed;
  }
  const auto idle = ends_of(2, 0, 1, {{0.5, false, 0.25, true, 1}}, 1.0);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_NEAR(idle[0], 0.75, kTol);
}

// With wake_on_busy 0.5 the seed decides whether the woken piece waits, the same way
// every time, and some seeds choose each.
TEST(MachineCpu, WhetherAWokenThreadWaitsIsDrawnFromTheSeed) {
  const std::vector<Piece> pieces = {{1, false, 0, true, 0}, {0.5, false, 0.25, true, 0}};
  const auto [waited, moved] = last_ends_over_seeds(2, 0, pieces, 0.5, 1.5, 0.75);
  EXPECT_GT(waited, 0);
  EXPECT_GT(moved, 0);
}

// Without a shared machine nothing is started: the caller waits the seconds out itself.
TEST(MachineCpu, NoSharedMachineStartsNothing) {
  const synclab::sim::MachineCpu own;
  EXPECT_FALSE(own.shared());
  EXPECT_EQ(own.start(1.0), nullptr);
  EXPECT_EQ(own.open_kernel(), 0u);
  EXPECT_EQ(own.start_kernel(1.0, 0), nullptr);
}
