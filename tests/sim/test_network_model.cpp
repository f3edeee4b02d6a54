// The network models: the star shortcut's fair sharing in closed form, the same completion
// times as SimGrid's solver on random cases (starts, sizes, ties, cancellations, saturated
// and not), the choice between the models, and whole runs under each.
#include <gtest/gtest.h>

#include <simgrid/s4u.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/config/run_config.hpp"
#include "sim/fair_share_link.hpp"
#include "sim/network_model.hpp"
#include "sim/platform.hpp"
#include "sim/simulation.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"
#include "tests/sim/simulated_summary.hpp"

namespace fs = std::filesystem;
namespace sg = simgrid::s4u;
using synclab::sim::FairShareLink;
using synclab::sim::testing::parse_times;
using synclab::sim::testing::run_in_child;
using synclab::sim::testing::times_text;

namespace {

TEST(FairShareLink, EqualFlowsShareTheLink) {
  FairShareLink link(100.0, 0);
  for (int i = 0; i < 4; ++i) link.add(0.0, 50.0);
  EXPECT_DOUBLE_EQ(link.rate(), 25.0);
  EXPECT_DOUBLE_EQ(link.next_completion(), 2.0);
  EXPECT_TRUE(link.complete(1.9, 1e-9).empty());
  const auto done = link.complete(2.0, 1e-9);
  EXPECT_EQ(done, (std::vector<FairShareLink::FlowId>{0, 1, 2, 3}));
  EXPECT_EQ(link.active(), 0u);
  EXPECT_TRUE(std::isinf(link.next_completion()));
}

TEST(FairShareLink, CapBindsUntilTheLinkIsShared) {
  FairShareLink link(100.0, 40.0);
  link.add(0.0, 80.0);  // alone: capped at 40, done at 2
  EXPECT_DOUBLE_EQ(link.rate(), 40.0);
  link.add(1.0, 100.0);  // two flows: 40 each (80 < 100), still capped
  EXPECT_DOUBLE_EQ(link.next_completion(), 2.0);
  link.add(1.0, 100.0);  // three: 100/3 each; flow 0 has 40 bytes left
  EXPECT_NEAR(link.next_completion(), 1.0 + 40.0 / (100.0 / 3), 1e-12);
  const double t = link.next_completion();
  EXPECT_EQ(link.complete(t, 1e-9), (std::vector<FairShareLink::FlowId>{0}));
  // The other two received 40 bytes each by then and now move at 50 each.
  EXPECT_NEAR(link.next_completion(), t + 60.0 / 40.0, 1e-12);
}

// What a flow has left follows its share: 25 bytes/s each of two, 50 alone.
TEST(FairShareLink, RemainingFollowsTheShare) {
  FairShareLink link(50.0, 0);
  const auto a = link.add(0.0, 50.0), b = link.add(0.0, 100.0);
  EXPECT_DOUBLE_EQ(link.remaining(1.0, a), 25.0);
  EXPECT_DOUBLE_EQ(link.remaining(1.0, b), 75.0);
  EXPECT_EQ(link.complete(2.0, 1e-9), (std::vector<FairShareLink::FlowId>{a}));
  EXPECT_DOUBLE_EQ(link.remaining(2.0, a), 0.0);
  EXPECT_DOUBLE_EQ(link.remaining(2.5, b), 25.0);
}

TEST(FairShareLink, RemovedFlowSpeedsUpTheOthers) {
  FairShareLink link(10.0, 0);
  const auto a = link.add(0.0, 10.0);
  link.add(0.0, 10.0);
  link.remove(1.0, a);  // b has 5 bytes, 5 left at rate 10
  EXPECT_EQ(link.active(), 1u);
  EXPECT_DOUBLE_EQ(link.next_completion(), 1.5);
  EXPECT_EQ(link.complete(1.5, 1e-9), (std::vector<FairShareLink::FlowId>{1}));
}

TEST(FairShareLink, ZeroByteFlowIsDoneAtOnce) {
  FairShareLink link(10.0, 0);
  link.add(3.0, 0.0);
  EXPECT_DOUBLE_EQ(link.next_completion(), 3.0);
  EXPECT_EQ(link.complete(3.0, 0.0).size(), 1u);
}

TEST(FairShareLink, LongBusyPeriodKeepsPrecision) {
  // 20 flows always in flight for a million completions (virtual bytes are rebased along
  // the way): the link never idles, so the clock is the bytes delivered over the capacity.
  FairShareLink link(1e9, 0);
  std::map<FairShareLink::FlowId, double> size;
  double delivered = 0, now = 0;
  for (int i = 0; i < 20; ++i) size[link.add(0.0, 1000.0 + i)] = 1000.0 + i;
  for (int k = 0; k < 1000000; ++k) {
    now = link.next_completion();
    for (auto id : link.complete(now, 0.0)) {
      delivered += size[id];
      size.erase(id);
      const double bytes = 1000.0 + static_cast<double>(k % 37);
      size[link.add(now, bytes)] = bytes;
    }
  }
  double in_flight = 0;
  for (const auto& [id, bytes] : size) in_flight += bytes;
  EXPECT_GE(now, delivered / 1e9 * (1 - 1e-12));
  EXPECT_LE(now, (delivered + in_flight) / 1e9 * (1 + 1e-12));
  EXPECT_EQ(link.active(), 20u);
}

// A random case on the built star: each flow has its own worker, a direction, a start time
// and a size; some start together with the same size, some are cancelled midway.
struct Flow {
  int worker;
  bool to_server;
  double start;
  std::uint64_t bytes;
  double cancel_at;  // < 0: never
};
struct Case {
  double worker_bw, ps_bw;
  std::vector<Flow> flows;
};

Case random_case(std::uint64_t seed) {
  synclab::Rng rng(seed);
  Case c;
  const int n = 1 + static_cast<int>(rng.below(300));
  c.ps_bw = 1e8 * (1 + 29 * rng.uniform());
  // From caps that never bind (NIC faster than the PS link) to caps that bind until ~30 flows share.
  c.worker_bw = c.ps_bw * (rng.uniform() < 0.3 ? 2.0 : 1.0 / (1 + 30 * rng.uniform()));
  const double horizon = 0.05 * (1 + 10 * rng.uniform());
  for (int i = 0; i < n; ++i) {
    Flow f;
    f.worker = i;
    f.to_server = rng.uniform() < 0.6;
    if (i > 0 && rng.uniform() < 0.2) {  // same instant and size as the previous flow
      f.start = c.flows.back().start;
      f.bytes = c.flows.back().bytes;
    } else {
      f.start = horizon * rng.uniform();
      f.bytes = 1000 + rng.below(2'000'000);
    }
    f.cancel_at = rng.uniform() < 0.05 ? f.start + horizon * rng.uniform() : -1.0;
    c.flows.push_back(f);
  }
  return c;
}

// Runs the case through one model; returns each flow's completion time (-1: cancelled first).
std::string run_case(const Case& c, const std::string& model) {
  synclab::sim::configure_contexts();
  sg::Engine engine("test");
  synclab::sim::configure_engine({});
  synclab::RunConfig config;
  config.cluster.workers = static_cast<int>(c.flows.size());
  config.cluster.gpu.flops = 1e12;
  config.cluster.gpu.efficiency = 1;
  config.cluster.link = {c.worker_bw, 0};
  config.cluster.ps_link = synclab::LinkSpec{c.ps_bw, 0};
  config.sim.network = model;
  auto platform = std::make_shared<synclab::sim::Platform>(synclab::sim::build_platform(config, false));
  std::shared_ptr<synclab::sim::NetworkModel> net =
      synclab::sim::make_network_model(synclab::sim::choose_network(config, {}), config, *platform);
  auto times = std::make_shared<std::vector<double>>(c.flows.size(), -1.0);
  auto transfers = std::make_shared<std::vector<synclab::sim::TransferPtr>>(c.flows.size());
  for (std::size_t i = 0; i < c.flows.size(); ++i) {
    const Flow f = c.flows[i];
    sg::Host* worker = platform->workers[static_cast<std::size_t>(f.worker)];
    sg::Host* ps = platform->servers[0];
    sg::ActorPtr actor = sg::Actor::create("flow", worker, [=] {
      sg::this_actor::sleep_until(f.start);
      (*transfers)[i] = f.to_server ? net->start(worker, ps, f.bytes) : net->start(ps, worker, f.bytes);
      (*transfers)[i]->wait();
      (*times)[i] = sg::Engine::get_clock();
    });
    if (f.cancel_at >= 0) {
      // As a crash does: the waiting actor is killed, then its transfer leaves the network.
      sg::Actor::create("cancel", ps, [=] {
        sg::this_actor::sleep_until(f.cancel_at);
        const auto& t = (*transfers)[i];
        if (!t || t->done()) return;
        actor->kill();
        t->cancel();
      });
    }
  }
  engine.run();
  const std::string out = times_text(*times);
  // Unfinished SimGrid communications print a backtrace when released: keep them.
  static auto* keep = new std::vector<std::shared_ptr<void>>();
  keep->push_back(transfers);
  keep->push_back(net);
  return out;
}

TEST(StarNetwork, SameTimesAsSimgridOnRandomCases) {
  int saturated_cases = 0, capped_cases = 0;
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    const Case c = random_case(seed);
    const std::string a = run_in_child([&] { return run_case(c, "simgrid"); });
    const std::string b = run_in_child([&] { return run_case(c, "star"); });
    const auto ta = parse_times(a), tb = parse_times(b);
    ASSERT_EQ(ta.size(), c.flows.size()) << "seed " << seed << ": " << a;
    ASSERT_EQ(tb.size(), c.flows.size()) << "seed " << seed << ": " << b;
    double worst = 0;
    for (std::size_t i = 0; i < ta.size(); ++i) {
      ASSERT_EQ(ta[i] < 0, tb[i] < 0) << "seed " << seed << " flow " << i << ": cancelled in one model only";
      if (ta[i] < 0) continue;
      const double rel = std::abs(ta[i] - tb[i]) / ta[i];
      worst = std::max(worst, rel);
      EXPECT_LE(rel, 1e-9) << "seed " << seed << " flow " << i << ": simgrid " << ta[i] << " star " << tb[i];
    }
    // The cases must exercise both regimes: some flows slower than their cap (shared link)...
    bool shared = false, capped = false;
    for (std::size_t i = 0; i < ta.size(); ++i) {
      if (ta[i] < 0) continue;
      const double alone = c.flows[i].start + static_cast<double>(c.flows[i].bytes) / std::min(c.worker_bw, c.ps_bw);
      (ta[i] > alone * (1 + 1e-6) ? shared : capped) = true;
    }
    saturated_cases += shared;
    capped_cases += capped;
  }
  EXPECT_GE(saturated_cases, 8) << "of 24";
  EXPECT_GE(capped_cases, 8) << "of 24";
  std::cout << saturated_cases << " cases with a shared link, " << capped_cases << " with capped flows\n";
}

synclab::RunConfig one_shard(const std::vector<std::string>& extra) {
  std::vector<std::string> o = {"model=mlp", "sim.mode=timing", "cluster.workers=8"};
  o.insert(o.end(), extra.begin(), extra.end());
  return synclab::load_run_config("", o);
}

TEST(NetworkChoice, AutoTakesTheStarWhereItIsExact) {
  using synclab::sim::choose_network;
  EXPECT_EQ(choose_network(one_shard({}), {}).model, "star");
  EXPECT_EQ(choose_network(one_shard({"cluster.servers=2"}), {}).model, "simgrid");
  EXPECT_EQ(choose_network(one_shard({}), {"network/model:LV08"}).model, "simgrid");
  EXPECT_EQ(choose_network(one_shard({}), {"contexts/stack-size:1024"}).model, "star");
  EXPECT_EQ(choose_network(one_shard({"sim.network=simgrid"}), {}).model, "simgrid");
  EXPECT_NE(choose_network(one_shard({"cluster.servers=2"}), {}).reason.find("cluster.servers"), std::string::npos);
}

TEST(NetworkChoice, StarWhereItDoesNotApplyNamesTheKey) {
  try {
    synclab::sim::choose_network(one_shard({"sim.network=star", "cluster.servers=2"}), {});
    FAIL() << "star accepted with two shards";
  } catch (const synclab::ConfigError& e) {
    EXPECT_EQ(e.key(), "sim.network");
    EXPECT_NE(std::string(e.what()).find("cluster.servers"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synclab::sim::choose_network(one_shard({"sim.network=star"}), {"network/model:LV08"}),
               synclab::ConfigError);
  EXPECT_THROW(synclab::load_run_config("", {"sim.network=ns3"}), synclab::ConfigError);
}

// BBR's RTT samples carry the path's round trip as the kernel sees it: the one calibrate
// read from BBR (sim.packet.rtt) where there is one, else the NICs' latencies, which a
// process's ping measures with its wake-ups.
TEST(NetworkChoice, PacketSendersTakeTheKernelsRoundTripWhereMeasured) {
  using synclab::sim::packet_link_spec;
  const auto pings = packet_link_spec(one_shard({"cluster.link.latency=12us", "cluster.ps_link.latency=20us"}));
  EXPECT_DOUBLE_EQ(pings.base_rtt, 32e-6);
  const auto kernel = packet_link_spec(
      one_shard({"cluster.link.latency=12us", "cluster.ps_link.latency=20us", "sim.packet.rtt=7us"}));
  EXPECT_DOUBLE_EQ(kernel.base_rtt, 7e-6);
  EXPECT_DOUBLE_EQ(kernel.rate, pings.rate);
  EXPECT_THROW(synclab::load_run_config("", {"sim.packet.rtt=-1us"}), synclab::ConfigError);
}

using synclab::sim::testing::slurp;

// Whole runs: the same simulated times under both models (a saturated PS link, stragglers,
// a failure that cancels transfers in flight), and summary.json says which model ran.
TEST(StarNetwork, WholeRunMatchesSimgrid) {
  const fs::path root = fs::temp_directory_path() / ("synclab-test-net-" + std::to_string(::getpid()));
  for (const std::string policy : {"bsp", "ssp"}) {
    std::map<std::string, nlohmann::json> s;
    for (const std::string model : {"simgrid", "star"}) {
      const std::string staleness = policy == "ssp" ? "policy.staleness=2" : "policy.on_worker_lost=continue";
      const auto config = one_shard({"policy.name=" + policy, staleness, "policy.timeout=0.5", "cluster.workers=40",
                                     "cluster.link.bandwidth=10Gbps", "cluster.link.latency=50us",
                                     "cluster.ps_link.bandwidth=2Gbps", "cluster.straggler.dist=exponential",
                                     "cluster.straggler.mean=5ms", "train.stop.updates=300",
                                     "cluster.failures=[{worker: 3, at: 0.2}]", "sim.network=" + model});
      const fs::path dir = root / (policy + model);
      const std::string r = run_in_child([&] {
        synclab::sim::testing::simulate_quietly(config, dir);
        return slurp(dir / "summary.json");
      });
      s[model] = nlohmann::json::parse(r, nullptr, false);
      ASSERT_FALSE(s[model].is_discarded()) << r;
      EXPECT_EQ(s[model]["network_model"].get<std::string>().rfind(model, 0), 0u) << s[model]["network_model"];
    }
    const double a = s["simgrid"]["time_s"].get<double>(), b = s["star"]["time_s"].get<double>();
    EXPECT_EQ(s["simgrid"]["updates"], s["star"]["updates"]) << policy;
    EXPECT_NEAR(a, b, 1e-9 * a) << policy;
    EXPECT_TRUE(s["star"]["per_worker"][3]["failed"].get<bool>());
    // Both count a worker's time alike: a transfer communicates from its first byte, after
    // the route's latency (docs/run-directory.md).
    for (std::size_t w = 0; w < s["star"]["per_worker"].size(); ++w)
      for (const char* part : {"compute_s", "communicate_s", "wait_s"})
        EXPECT_NEAR(s["simgrid"]["per_worker"][w][part].get<double>(), s["star"]["per_worker"][w][part].get<double>(), 1e-9 * a)
            << policy << " worker " << w << " " << part;
    // The PS link was the bottleneck: transfers took longer than alone on it (2 Gb/s).
    const double comm = s["star"]["communicate_s"].get<double>();
    EXPECT_GT(comm, 1.5 * s["star"]["transfers"].get<double>() * s["star"]["param_bytes"].get<double>() / 0.25e9);
  }
  std::error_code ec;
  fs::remove_all(root, ec);
}

// One bsp worker and two shards (SimGrid's solver, the latency in the platform's links, a
// route's the mean of its two hosts' as in the star): the worker's NIC carries its two
// half pushes, then the two half replies, each pair in M / B after the route's latency L.
// A transfer communicates from its first byte, so the worker communicates 2 M / B per
// update and waits 2 L (the push's latency and the reply's), as a real worker counts it;
// the stop cuts the last round short.
TEST(SimgridNetwork, ARoutesLatencyIsWaitNotCommunication) {
  const int updates = 20;
  const auto s = synclab::sim::testing::simulated_summary(
      "network-latency",
      {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=1", "cluster.servers=2",
       "cluster.link.bandwidth=100Mbps", "cluster.link.latency=1ms", "cluster.ps_link.bandwidth=10Gbps",
       "cluster.ps_link.latency=1ms", "train.eval_every=0", "train.stop.updates=" + std::to_string(updates)},
      "bsp");
  ASSERT_EQ(s["network_model"].get<std::string>().rfind("simgrid", 0), 0u) << s["network_model"];
  const double message = s["param_bytes"].get<double>() / 12.5e6, route = 1e-3;
  const auto& w = s["per_worker"][0];
  EXPECT_NEAR(w["communicate_s"].get<double>(), updates * 2 * message, 2 * message) << w.dump();
  EXPECT_NEAR(w["wait_s"].get<double>(), updates * 2 * route, 2 * route) << w.dump();
}

}  // namespace
