// Closed forms of the exact network model on the star platform, and the step-time model.
#include <gtest/gtest.h>

#include <simgrid/s4u.hpp>

#include <cmath>
#include <sstream>

#include "core/common/error.hpp"
#include "sim/network_model.hpp"
#include "sim/platform.hpp"
#include "core/cost/step_time.hpp"
#include "tests/sim/run_in_child.hpp"

namespace sg = simgrid::s4u;
using synclab::RunConfig;
using synclab::sim::testing::parse_times;
using synclab::sim::testing::run_in_child;
using synclab::sim::testing::times_text;

namespace {

RunConfig cluster(int workers, double bandwidth, double latency) {
  RunConfig c;
  c.cluster.workers = workers;
  c.cluster.servers = 1;
  c.cluster.gpu.flops = 1e13;
  c.cluster.gpu.efficiency = 0.5;
  c.cluster.link = {bandwidth, latency};
  return c;
}

// Every worker pushes `bytes` to ps-0 at t=0 (and, if `pull`, ps-0 sends `bytes` back to
// it at the same time); returns the completion times, space-separated.
std::string transfers(const RunConfig& config, double bytes, bool pull) {
  synclab::sim::configure_contexts();
  sg::Engine engine("test");
  synclab::sim::configure_engine({});
  auto platform = synclab::sim::build_platform(config);
  auto times = std::make_shared<std::vector<double>>(platform.workers.size(), -1.0);
  for (std::size_t w = 0; w < platform.workers.size(); ++w) {
    sg::Host* host = platform.workers[w];
    sg::Host* ps = platform.servers[0];
    sg::Actor::create("push", host, [=] {
      auto push = sg::Comm::sendto_async(host, ps, static_cast<std::uint64_t>(bytes));
      sg::CommPtr back = pull ? sg::Comm::sendto_async(ps, host, static_cast<std::uint64_t>(bytes)) : nullptr;
      push->wait();
      if (back) back->wait();
      (*times)[w] = sg::Engine::get_clock();
    });
  }
  engine.run();
  return times_text(*times);
}

}  // namespace

TEST(ClosedForm, OneTransferTakesSizeOverBandwidthPlusLatency) {
  for (double latency : {50e-6, 10e-3}) {
    const RunConfig c = cluster(1, 1.25e9, latency);
    const double m = 100e6;
    const std::string r = run_in_child([&] { return transfers(c, m, false); });
    const auto t = parse_times(r);
    ASSERT_EQ(t.size(), 1u) << r;
    EXPECT_NEAR(t[0], m / 1.25e9 + latency, 0.01 * (m / 1.25e9 + latency));
  }
}

TEST(ClosedForm, SmallMessageIsLatencyBound) {
  const RunConfig c = cluster(1, 1.25e9, 1e-3);
  const auto t = parse_times(run_in_child([&] { return transfers(c, 1000, false); }));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NEAR(t[0], 1000 / 1.25e9 + 1e-3, 0.01 * 1e-3);
}

TEST(ClosedForm, ConcurrentPushesShareThePsLink) {
  for (int p : {2, 8, 64}) {
    const RunConfig c = cluster(p, 1.25e9, 50e-6);
    const double m = 10e6;
    const std::string r = run_in_child([&] { return transfers(c, m, false); });
    const auto t = parse_times(r);
    ASSERT_EQ(t.size(), static_cast<std::size_t>(p)) << r;
    const double expect = p * m / 1.25e9 + 50e-6;
    for (double x : t) EXPECT_NEAR(x, expect, 0.01 * expect) << "P=" << p;
  }
}

TEST(ClosedForm, PushAndPullUseOppositeHalvesOfTheNic) {
  const RunConfig c = cluster(4, 1.25e9, 50e-6);
  const double m = 10e6;
  const auto t = parse_times(run_in_child([&] { return transfers(c, m, true); }));
  ASSERT_EQ(t.size(), 4u);
  const double expect = 4 * m / 1.25e9 + 50e-6;  // full duplex: both directions in parallel
  for (double x : t) EXPECT_NEAR(x, expect, 0.01 * expect);
}

TEST(ClosedForm, PsLinkOverrideIsTheBottleneck) {
  RunConfig c = cluster(4, 1.25e9, 50e-6);
  c.cluster.ps_link = synclab::LinkSpec{0.125e9, 150e-6};
  const double m = 1e6;
  const auto t = parse_times(run_in_child([&] { return transfers(c, m, false); }));
  ASSERT_EQ(t.size(), 4u);
  const double expect = 4 * m / 0.125e9 + (50e-6 + 150e-6) / 2;
  for (double x : t) EXPECT_NEAR(x, expect, 0.01 * expect);
}

TEST(Platform, HostSpeedIsFlopsTimesEfficiencyTimesFactor) {
  RunConfig c = cluster(2, 1e9, 0);
  c.cluster.speeds = {1.0, 0.5};
  const std::string r = run_in_child([&] {
    synclab::sim::configure_contexts();
    sg::Engine engine("test");
    synclab::sim::configure_engine({});
    auto p = synclab::sim::build_platform(c);
    std::ostringstream out;
    out << p.workers[0]->get_speed() << ' ' << p.workers[1]->get_speed() << ' ' << p.workers[1]->get_name();
    return out.str();
  });
  EXPECT_EQ(r, "5e+12 2.5e+12 worker-1");
}

TEST(Platform, BadValuesNameTheKey) {
  RunConfig c = cluster(2, 1e9, 0);
  c.cluster.speeds = {1.0};
  EXPECT_NE(run_in_child([&] {
              synclab::sim::configure_contexts();
              sg::Engine engine("test");
              synclab::sim::configure_engine({});
              synclab::sim::build_platform(c);
              return std::string("built");
            }).find("cluster.speeds"),
            std::string::npos);
  c.cluster.speeds.clear();
  c.cluster.platform = "/nonexistent/platform.xml";
  EXPECT_NE(run_in_child([&] {
              synclab::sim::configure_contexts();
              sg::Engine engine("test");
              synclab::sim::configure_engine({});
              synclab::sim::build_platform(c);
              return std::string("built");
            }).find("cluster.platform"),
            std::string::npos);
}

TEST(StepTime, ExponentialNoiseHasTheRightMeanAndIsDeterministic) {
  synclab::StragglerSpec s;
  s.dist = "exponential";
  s.mean = 0.2;
  synclab::StepTimeModel m(s, 7, {0.1, 0.1});
  synclab::StepTimeModel again(s, 7, {0.1, 0.1});
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double t = m.seconds(i % 2, static_cast<std::uint64_t>(i / 2), 0.0);
    EXPECT_GE(t, 0.1);
    sum += t;
  }
  EXPECT_NEAR(sum / n, 0.3, 0.003);
  EXPECT_EQ(m.seconds(1, 42, 3.0), again.seconds(1, 42, 99.0));
  EXPECT_NE(m.seconds(0, 42, 0.0), m.seconds(1, 42, 0.0));
}

TEST(StepTime, LognormalMeanMatches) {
  synclab::StragglerSpec s;
  s.dist = "lognormal";
  s.mean = 0.5;
  s.sigma = 0.8;
  synclab::StepTimeModel m(s, 3, {0.0});
  double sum = 0;
  const int n = 400000;
  for (int i = 0; i < n; ++i) sum += m.seconds(0, static_cast<std::uint64_t>(i), 0.0);
  EXPECT_NEAR(sum / n, 0.5, 0.01);
}

TEST(StepTime, PeriodicSlowPhasesOnChosenWorkersOnly) {
  synclab::StragglerSpec s;
  s.dist = "periodic";
  s.period = 10;
  s.duration = 2;
  s.slowdown = 3;
  s.workers = {1};
  synclab::StepTimeModel m(s, 1, {1.0, 1.0});
  EXPECT_DOUBLE_EQ(m.seconds(1, 0, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(m.seconds(1, 0, 5.0), 1.0);
  EXPECT_DOUBLE_EQ(m.seconds(1, 0, 21.0), 3.0);
  EXPECT_DOUBLE_EQ(m.seconds(0, 0, 0.5), 1.0);
}

TEST(StepTime, BadSpecNamesTheKey) {
  synclab::StragglerSpec s;
  s.dist = "gamma";
  try {
    synclab::StepTimeModel m(s, 1, {1.0});
    FAIL() << "accepted an unknown distribution";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "cluster.straggler.dist");
  }
  s.dist = "exponential";
  s.workers = {5};
  EXPECT_THROW(synclab::StepTimeModel(s, 1, {1.0}), synclab::ConfigError);
}
