// End-to-end simulations: bsp against the policies' in-process driver, determinism, stop
// conditions, the ssp clock bound, failures, and the order-statistics throughput of
// Dutta et al. (2018) for bsp / async / k-sync under exponential compute times.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"
#include "policies/inproc_driver.hpp"
#include "policies/registry.hpp"
#include "sim/simulation.hpp"
#include "sim/training_setup.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"

namespace fs = std::filesystem;
using synclab::sim::testing::run_in_child;
using synclab::sim::testing::slurp;

namespace {

const synclab::sim::testing::ScratchCleanup scratch_cleanup{"sim"};

fs::path scratch(const std::string& name) { return synclab::sim::testing::scratch("sim", name); }

// Small full-mode run on synthetic data: fast and independent of installed datasets.
synclab::RunConfig full_config(const std::vector<std::string>& extra) {
  std::vector<std::string> o = {"model=softmax",
                                "data.dataset=synthetic",
                                "data.synthetic_train=1200",
                                "data.synthetic_test=300",
                                "data.batch=20",
                                "train.optimizer.name=adam",
                                "train.optimizer.lr=0.01",
                                "train.stop.updates=30",
                                "train.eval_every=10",
                                "train.seed=5",
                                "cluster.workers=3",
                                "cluster.link.bandwidth=1Gbps",
                                "cluster.straggler.dist=exponential",
                                "cluster.straggler.mean=1ms",
                                "sim.mode=full"};
  o.insert(o.end(), extra.begin(), extra.end());
  return synclab::load_run_config("", o);
}

// Timing-mode run where compute is pure exponential noise of mean 1 s and transfers are
// negligible (31 KB over 100 Gb/s, no latency): the setting of Dutta et al.'s analysis.
synclab::RunConfig dutta_config(const std::string& policy, int workers, int updates) {
  return synclab::load_run_config("", {"model=softmax", "sim.mode=timing", "policy=" + policy,
                                       "cluster.workers=" + std::to_string(workers),
                                       "cluster.link.bandwidth=100Gbps", "cluster.link.latency=0",
                                       "cluster.straggler.dist=exponential", "cluster.straggler.mean=1",
                                       "train.stop.updates=" + std::to_string(updates), "train.seed=11"});
}

// Runs simulate() in a child; returns summary.json's text (or the child's failure).
std::string simulate_in_child(const synclab::RunConfig& config, const fs::path& dir,
                              synclab::sim::SimOptions options = {}) {
  return run_in_child([&] {
    std::ostringstream log;
    options.log = &log;
    options.log_progress = false;
    synclab::sim::simulate(config, dir, options);
    return slurp(dir / "summary.json");
  });
}

nlohmann::json parse_summary(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  return j;
}

double harmonic(int n) {
  double h = 0;
  for (int i = 1; i <= n; ++i) h += 1.0 / i;
  return h;
}

}  // namespace

TEST(Simulation, BspFullModeMatchesInprocDriver) {
  for (int servers : {1, 2}) {
    const auto config = full_config({"policy.name=bsp", "cluster.servers=" + std::to_string(servers)});
    const std::string text = simulate_in_child(config, scratch("bsp-" + std::to_string(servers)));
    const auto sim = parse_summary(text);
    ASSERT_FALSE(sim.is_discarded()) << text;
    EXPECT_EQ(sim["updates"], 30);

    auto setup = synclab::sim::make_training_setup(config);
    auto policy = synclab::make_policy(config.policy, config.cluster.workers);
    synclab::InprocOptions o;
    o.policy = config.policy;
    o.optimizer = config.train.optimizer;
    o.shards = servers;
    o.max_updates = 30;
    synclab::InprocDriver driver(o, setup.initial, synclab::sim::make_worker_setups(config, setup, policy.worker));
    const auto result = driver.run();
    EXPECT_EQ(sim["final_params_sha256"], synclab::sha256_hex(result.params)) << "servers=" << servers << " inproc stop " << result.stop_reason << " updates " << result.updates << " mixed " << result.mixed_versions;
    // One run monitor counts both runs: under bsp every figure it owns is equal.
    const synclab::RunSummary& in = result.summary;
    EXPECT_EQ(sim["stop_reason"].get<std::string>(), in.stop_reason);
    EXPECT_EQ(sim["updates"].get<std::uint64_t>(), in.updates);
    EXPECT_EQ(sim["samples"].get<std::uint64_t>(), in.samples);
    EXPECT_EQ(sim["dropped_pushes"].get<std::uint64_t>(), in.dropped_pushes);
    EXPECT_DOUBLE_EQ(sim["mean_staleness"].get<double>(), in.mean_staleness);
    EXPECT_EQ(sim["max_staleness"].get<std::int64_t>(), in.max_staleness);
    EXPECT_EQ(sim["shards"].get<int>(), in.shards);
    EXPECT_EQ(sim["workers"].get<int>(), in.workers);
  }
}

TEST(Simulation, SameSeedGivesByteIdenticalCsvs) {
  for (const std::string mode : {"full", "timing"}) {
    const auto config = full_config({"policy.name=ssp", "policy.staleness=2", "sim.mode=" + mode});
    const fs::path a = scratch("det-a-" + mode), b = scratch("det-b-" + mode);
    ASSERT_EQ(simulate_in_child(config, a).rfind("CHILD FAILED", 0), std::string::npos);
    ASSERT_EQ(simulate_in_child(config, b).rfind("CHILD FAILED", 0), std::string::npos);
    EXPECT_EQ(slurp(a / "updates.csv"), slurp(b / "updates.csv"));
    EXPECT_EQ(slurp(a / "evals.csv"), slurp(b / "evals.csv"));
    EXPECT_GT(slurp(a / "updates.csv").size(), 100u);
  }
}

TEST(Simulation, SummaryHasRunDirectoryFieldsAndBreakdown) {
  const auto config = full_config({"policy.name=async"});
  const fs::path dir = scratch("summary");
  const auto s = parse_summary(simulate_in_child(config, dir));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["backend"], "sim");
  EXPECT_EQ(s["stop_reason"], "updates");
  EXPECT_EQ(s["updates"], 30);
  EXPECT_EQ(s["samples"], 30 * 20);
  EXPECT_GT(s["final_test_accuracy"].get<double>(), 0.0);
  EXPECT_EQ(s["per_worker"].size(), 3u);
  for (const auto& w : s["per_worker"]) {
    EXPECT_GT(w["compute_s"].get<double>(), 0.0);
    EXPECT_GT(w["communicate_s"].get<double>(), 0.0);
  }
  EXPECT_TRUE(fs::exists(dir / "config.yaml"));
  // One updates.csv row per applied gradient under async; evals at 0, 10, 20, 30.
  std::istringstream rows(slurp(dir / "updates.csv"));
  std::string line;
  int n = -1;
  while (std::getline(rows, line)) ++n;
  EXPECT_EQ(n, 30);
  std::istringstream evals(slurp(dir / "evals.csv"));
  n = -1;
  while (std::getline(evals, line)) ++n;
  EXPECT_EQ(n, 4);
}

TEST(Simulation, StopsOnSimulatedTime) {
  const auto config = full_config({"policy.name=async", "train.stop.updates=0", "train.stop.sim_time=0.05"});
  const auto s = parse_summary(simulate_in_child(config, scratch("time")));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["stop_reason"], "time");
  EXPECT_DOUBLE_EQ(s["time_s"].get<double>(), 0.05);
  EXPECT_GT(s["updates"].get<int>(), 5);
}

TEST(Simulation, StopsOnAccuracy) {
  const auto config = full_config({"policy.name=async", "train.stop.updates=2000", "train.stop.accuracy=0.6",
                                   "train.eval_every=5"});
  const auto s = parse_summary(simulate_in_child(config, scratch("acc")));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["stop_reason"], "accuracy");
  EXPECT_LT(s["updates"].get<int>(), 2000);
}

TEST(Simulation, TimingModeRunsCostOnlyProfiles) {
  const auto config = synclab::load_run_config(
      "", {"model=resnet50", "sim.mode=timing", "policy.name=bsp", "cluster.workers=4", "train.stop.updates=20",
           "cluster.straggler.dist=none"});
  const auto s = parse_summary(simulate_in_child(config, scratch("resnet")));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["updates"], 20);
  // bsp, no noise: every iteration = compute + push of 4 models through the PS link + reply.
  const double bytes = s["param_bytes"].get<double>();
  const double compute = s["step_flops"].get<double>() / (15.7e12 * 0.4);
  (void)compute;
  EXPECT_GT(s["time_s"].get<double>(), 20 * 2 * 4 * bytes / 1.25e9);
}

TEST(Simulation, FullModeRejectsCostOnlyProfile) {
  const auto config = synclab::load_run_config("", {"model=resnet50", "sim.mode=full"});
  const std::string r = simulate_in_child(config, scratch("reject"));
  EXPECT_NE(r.find("model"), std::string::npos) << r;
  EXPECT_NE(r.find("timing"), std::string::npos) << r;
}

TEST(Simulation, SspClockBound) {
  for (int s : {0, 2}) {
    auto config = full_config({"policy.name=ssp", "policy.staleness=" + std::to_string(s), "sim.mode=timing",
                               "cluster.workers=6", "cluster.speeds=[1, 1, 0.5, 1, 0.25, 1]",
                               "cluster.straggler.mean=0.01", "train.stop.updates=400"});
    const fs::path dir = scratch("ssp" + std::to_string(s));  // in this process: its folder is removed at exit
    const std::string r = run_in_child([&] {
      std::vector<std::uint64_t> clocks(6, 0);
      std::uint64_t worst = 0;
      synclab::sim::SimOptions o;
      std::ostringstream log;
      o.log = &log;
      o.log_progress = false;
      o.on_push = [&](double, int w, std::uint64_t clock) {
        clocks[static_cast<std::size_t>(w)] = clock;
        const auto lo = *std::min_element(clocks.begin(), clocks.end());
        worst = std::max(worst, clock - lo);
      };
      synclab::sim::simulate(config, dir, o);
      return std::to_string(worst);
    });
    ASSERT_EQ(r.find("CHILD"), std::string::npos) << r;
    EXPECT_LE(std::stoull(r), static_cast<unsigned long long>(s + 1)) << "staleness " << s;
    EXPECT_GE(std::stoull(r), 1u);
  }
}

TEST(Simulation, FailedWorkerIsExcludedAfterTheTimeout) {
  const auto config = full_config({"policy.name=bsp", "policy.timeout=0.02", "cluster.failures=[{worker: 1, at: 0.01}]",
                                   "train.stop.updates=40"});
  const auto s = parse_summary(simulate_in_child(config, scratch("fail")));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["updates"], 40);
  EXPECT_TRUE(s["per_worker"][1]["failed"].get<bool>());
  EXPECT_FALSE(s["per_worker"][0]["failed"].get<bool>());
  EXPECT_GT(s["policy_notes"].get<int>(), 0);
}

TEST(Simulation, ANonFiniteLossEndsTheRunAsDiverged) {
  const auto config = full_config({"policy.name=async", "train.optimizer.name=sgd", "train.optimizer.lr=1e300"});
  const auto dir = scratch("diverged");
  const std::string r = simulate_in_child(config, dir);
  EXPECT_NE(r.find("CHILD FAILED: exception: diverged: the "), std::string::npos) << r;
  EXPECT_NE(r.find("lower train.optimizer.lr"), std::string::npos) << r;
  const auto s = parse_summary(slurp(dir / "summary.json"));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["stop_reason"], "diverged");
  EXPECT_LT(s["updates"].get<int>(), 30);
}

TEST(Simulation, AnAccuracyOnlyRunSaysHowToBoundIt) {
  const auto config = full_config({"policy.name=async", "train.stop.updates=0", "train.stop.accuracy=0.3",
                                   "train.eval_every=5"});
  const auto dir = scratch("unbounded");
  const std::string log = run_in_child([&] {
    std::ostringstream out;
    synclab::sim::SimOptions options;
    options.log = &out;
    const auto s = synclab::sim::simulate(config, dir, options);
    return s.stop_reason + "\n" + out.str();
  });
  EXPECT_EQ(log.rfind("accuracy\n", 0), 0u) << log;
  EXPECT_NE(log.find("sim: only train.stop.accuracy (0.3) bounds this run"), std::string::npos) << log;
}

TEST(Simulation, FailureUnderStopPolicyExitsWithReason) {
  const auto config = full_config({"policy.name=bsp", "policy.on_worker_lost=stop", "cluster.failures=[{worker: 2, at: 0.01}]"});
  const std::string r = simulate_in_child(config, scratch("failstop"));
  EXPECT_NE(r.find("CHILD FAILED"), std::string::npos);
  EXPECT_NE(r.find("worker 2 lost"), std::string::npos) << r;
}

// Dutta et al. 2018, exponential compute X ~ Exp(mean 1), P workers, no communication:
// bsp waits for the max: E[T] = H_P; k-sync for the k-th of P: H_P - H_{P-k}, and so
// does k-async (memoryless: the workers left running restart in distribution); async
// applies every gradient on arrival: P updates per unit time; the k-batch variants need k
// arrivals of a Poisson stream of rate P: k / P.
TEST(Simulation, ThroughputMatchesOrderStatistics) {
  const int p = 8;
  struct Case {
    std::string policy;
    int updates;
    double expected_period;
  };
  const std::vector<Case> cases = {
      {"bsp", 3000, harmonic(p)},
      {"{name: ksync, k: 4}", 3000, harmonic(p) - harmonic(p - 4)},
      {"{name: ksync, k: 1}", 3000, harmonic(p) - harmonic(p - 1)},
      {"async", 12000, 1.0 / p},
      {"{name: kasync, k: 4}", 3000, harmonic(p) - harmonic(p - 4)},
      {"{name: kbatch-async, k: 4}", 4000, 4.0 / p},
      {"{name: kbatch-sync, k: 4}", 4000, 4.0 / p},
  };
  for (const auto& c : cases) {
    const auto s = parse_summary(simulate_in_child(dutta_config(c.policy, p, c.updates), scratch("dutta")));
    ASSERT_FALSE(s.is_discarded()) << c.policy;
    const double period = s["time_s"].get<double>() / s["updates"].get<double>();
    EXPECT_NEAR(period / c.expected_period, 1.0, 0.03) << c.policy << ": " << period << " vs " << c.expected_period;
  }
}

TEST(Simulation, XmlPlatformFile) {
  const fs::path dir = scratch("xml");
  fs::create_directories(dir);
  const fs::path xml = dir / "platform.xml";
  std::ofstream(xml) << R"(<?xml version='1.0'?>
<!DOCTYPE platform SYSTEM "https://simgrid.org/simgrid.dtd">
<platform version="4.1">
  <zone id="lab" routing="Full">
    <host id="worker-0" speed="1Tf"/>
    <host id="worker-1" speed="1Tf"/>
    <host id="server-0" speed="1Tf"/>
    <link id="l0" bandwidth="1GBps" latency="1ms"/>
    <link id="l1" bandwidth="1GBps" latency="1ms"/>
    <route src="worker-0" dst="server-0"><link_ctn id="l0"/></route>
    <route src="worker-1" dst="server-0"><link_ctn id="l1"/></route>
  </zone>
</platform>
)";
  auto config = synclab::load_run_config(
      "", {"model=softmax", "sim.mode=timing", "policy.name=bsp", "cluster.workers=2", "train.stop.updates=10",
           "cluster.straggler.dist=none", "cluster.platform=" + xml.string()});
  const auto s = parse_summary(simulate_in_child(config, dir / "run"));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["updates"], 10);
  // Per update: compute (step FLOPs at 1 Tflop/s) + push + reply, each 31,400 B / 1 GB/s + 1 ms.
  const double transfer = 31400 / 1e9 + 1e-3;
  const double step = s["step_flops"].get<double>() / 1e12;
  EXPECT_NEAR(s["time_s"].get<double>(), 10 * (step + 2 * transfer), 0.01 * 10 * (step + 2 * transfer));

  config.cluster.workers = 3;
  const std::string r = simulate_in_child(config, dir / "run3");
  EXPECT_NE(r.find("no host named 'worker-2'"), std::string::npos) << r;
}

// One worker, no noise, bsp: an update = step + push + reply, each transfer M/B + L, the
// same whether the latency is waited by the actor (one shard) or carried by the links
// (two shards, whose halves share the worker's NIC).
TEST(Simulation, IterationTimeClosedForm) {
  for (int servers : {1, 2}) {
    const auto config = synclab::load_run_config(
        "", {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=1", "train.stop.updates=50",
             "cluster.straggler.dist=none", "cluster.link.bandwidth=1Gbps", "cluster.link.latency=2ms",
             "cluster.servers=" + std::to_string(servers)});
    const auto s = parse_summary(simulate_in_child(config, scratch("iter" + std::to_string(servers))));
    ASSERT_FALSE(s.is_discarded());
    const double step = s["step_flops"].get<double>() / (15.7e12 * 0.4);
    const double transfer = s["param_bytes"].get<double>() / 0.125e9 + 2e-3;
    const double expected = 50 * (step + 2 * transfer);
    EXPECT_NEAR(s["time_s"].get<double>(), expected, 1e-3 * expected) << "servers=" << servers;
  }
}

// A worker NIC slower than the PS link limits every transfer of that worker, under both
// network models: an update = step + 2 (M / B_worker + (L_worker + L_ps) / 2).
TEST(Simulation, WorkerNicSlowerThanPsLinkSetsTheRate) {
  for (const std::string network : {"star", "simgrid"}) {
    const auto config = synclab::load_run_config(
        "", {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=2", "train.stop.updates=20",
             "cluster.straggler.dist=none", "cluster.link.bandwidth=1Gbps", "cluster.link.latency=2ms",
             "cluster.ps_link.bandwidth=10Gbps", "cluster.ps_link.latency=0", "sim.network=" + network});
    const auto s = parse_summary(simulate_in_child(config, scratch("nic-" + network)));
    ASSERT_FALSE(s.is_discarded()) << network;
    const double step = s["step_flops"].get<double>() / (15.7e12 * 0.4);
    // Two workers share the 10 Gb/s PS link at 5 Gb/s each: their 1 Gb/s NICs bind.
    const double transfer = s["param_bytes"].get<double>() / 0.125e9 + 1e-3;
    const double expected = 20 * (step + 2 * transfer);
    EXPECT_NEAR(s["time_s"].get<double>(), expected, 1e-6 * expected) << network;
  }
}

// Every registered policy runs to its update limit in both modes, with a worker failing
// midway (policies wait for it up to their timeout, then carry on).
TEST(Simulation, EveryPolicyRunsWithAFailure) {
  for (const auto& info : synclab::policy_list()) {
    for (const std::string mode : {"full", "timing"}) {
      std::vector<std::string> o = {"policy.name=" + info.name, "sim.mode=" + mode, "cluster.workers=4",
                                    "train.stop.updates=25", "policy.timeout=0.01",
                                    "cluster.failures=[{worker: 3, at: 0.005}]"};
      if (info.name == "backup") o.push_back("policy.backup=1");
      const auto s = parse_summary(simulate_in_child(full_config(o), scratch("all-" + info.name + mode)));
      ASSERT_FALSE(s.is_discarded()) << info.name << " " << mode;
      EXPECT_EQ(s["updates"], 25) << info.name << " " << mode;
      EXPECT_TRUE(s["per_worker"][3]["failed"].get<bool>()) << info.name;
    }
  }
}

TEST(Simulation, EveryWorkerFailedExitsWithReason) {
  const auto config = full_config({"policy.name=bsp", "policy.timeout=0.01", "cluster.workers=2",
                                   "cluster.failures=[{worker: 0, at: 0.001}, {worker: 1, at: 0.002}]"});
  const fs::path dir = scratch("allfail");
  const std::string r = simulate_in_child(config, dir);
  EXPECT_NE(r.find("CHILD FAILED"), std::string::npos) << r;
  EXPECT_NE(r.find("every worker failed"), std::string::npos) << r;
  const auto s = parse_summary(slurp(dir / "summary.json"));
  ASSERT_FALSE(s.is_discarded());
  EXPECT_EQ(s["stop_reason"], "failed");
  EXPECT_DOUBLE_EQ(s["time_s"].get<double>(), 0.002);
}
