// Software costs in simulated time (cluster.software): closed forms of what each charge
// adds (bsp with one worker; async bound by its server's thread; a worker's first step
// once), the same under both
// network solvers since the charges are the driver's; the math is untouched; zero costs
// keep today's times.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/run_config.hpp"
#include "policies/registry.hpp"
#include "sim/simulation.hpp"
#include "tests/sim/scratch_runs.hpp"
#include "tests/sim/simulated_summary.hpp"

namespace {

const synclab::sim::testing::ScratchCleanup scratch_cleanup{"swcost"};

nlohmann::json simulate(const std::vector<std::string>& overrides, const std::string& name) {
  return synclab::sim::testing::simulated_summary("swcost", overrides, name);
}

// updates.csv's time_s column.
std::vector<double> update_times(const std::string& name) {
  std::ifstream in(synclab::sim::testing::scratch_root("swcost") / name / "updates.csv");
  std::string line;
  std::getline(in, line);  // header
  std::vector<double> t;
  while (std::getline(in, line)) t.push_back(std::stod(line.substr(0, line.find(','))));
  return t;
}

// Rates chosen to be told apart in the sums below (seconds per message, byte, parameter).
constexpr double kSendMessage = 50e-6, kSendByte = 1e-9, kReceiveMessage = 30e-6, kReceiveByte = 2e-9;
constexpr double kApplyAdam = 1e-8, kAggregate = 2e-9, kSnapshotByte = 3e-9;

std::vector<std::string> with_costs(std::vector<std::string> o) {
  for (const char* s : {"cluster.software.send_message=50us", "cluster.software.send_byte=1e-9",
                        "cluster.software.receive_message=30us", "cluster.software.receive_byte=2e-9",
                        "cluster.software.apply.adam=1e-8", "cluster.software.apply.sgd=7e-9",
                        "cluster.software.aggregate=2e-9"})
    o.push_back(s);
  return o;
}

}  // namespace

// One worker, bsp, no noise: an update = step + 2 transfers, plus the worker encoding its
// push and pull request, the server receiving both, applying (optimizer + one push folded
// in), encoding its reply (one checksum), and the worker receiving it:
//   3 send_message + 2 send_byte B + 3 receive_message + 2 receive_byte B + n (apply + aggregate)
// and, with evaluations every 10 updates, snapshot_byte B at each of them.
TEST(SoftwareCosts, BspUpdateGrowsByApplyAndSerializationOnBothEnds) {
  for (const std::string network : {"star", "simgrid"}) {
    const std::vector<std::string> base = {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=1",
                                           "train.stop.updates=50", "train.eval_every=0", "cluster.straggler.dist=none",
                                           "cluster.link.bandwidth=1Gbps", "cluster.link.latency=2ms",
                                           "sim.network=" + network};
    const auto free_run = simulate(base, "bsp-free-" + network);
    const auto charged = simulate(with_costs(base), "bsp-charged-" + network);
    auto evals = with_costs(base);
    evals.push_back("train.eval_every=10");
    evals.push_back("cluster.software.snapshot_byte=3e-9");
    const auto snapshots = simulate(evals, "bsp-snap-" + network);
    EXPECT_EQ(free_run["software_costs"], "free");
    EXPECT_DOUBLE_EQ(charged["software_costs"]["apply_adam"].get<double>(), kApplyAdam);

    const double b = free_run["param_bytes"].get<double>(), n = free_run["num_params"].get<double>();
    const double per_update = 3 * kSendMessage + 2 * kSendByte * b + 3 * kReceiveMessage + 2 * kReceiveByte * b +
                              n * (kApplyAdam + kAggregate);
    const double t_free = free_run["time_s"].get<double>(), t = charged["time_s"].get<double>();
    EXPECT_NEAR(t - t_free, 50 * per_update, 1e-6 * t) << network;
    const double t_snap = snapshots["time_s"].get<double>();
    EXPECT_NEAR(t_snap - t, 5 * kSnapshotByte * b, 1e-6 * t) << network;  // updates 10, 20, ..., 50
    // The time per update is the same from the first update on (the first pull is charged too).
    const auto rows = update_times("bsp-charged-" + network);
    ASSERT_EQ(rows.size(), 50u);
    EXPECT_NEAR(rows[0], t / 50, 1e-6 * t) << network;
  }
}

// The first step's start-up cost is charged once per worker: with two identical bsp
// workers every update comes exactly that much later, and each worker's compute time grows
// by it once, not per step; under the fluid and the packet solver alike.
TEST(SoftwareCosts, FirstStepIsLongerOncePerWorker) {
  constexpr double kFirstStep = 0.0375;
  for (const std::string network : {"star", "packet"}) {
    const std::vector<std::string> base = {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=2",
                                           "train.stop.updates=30", "train.eval_every=0", "cluster.straggler.dist=none",
                                           "cluster.link.bandwidth=1Gbps", "cluster.link.latency=1ms",
                                           "sim.network=" + network};
    auto late = base;
    late.push_back("cluster.software.first_step=37.5ms");
    const auto free_run = simulate(base, "first-free-" + network);
    const auto charged = simulate(late, "first-late-" + network);
    EXPECT_DOUBLE_EQ(charged["software_costs"]["first_step"].get<double>(), kFirstStep);
    const auto t0 = update_times("first-free-" + network), t1 = update_times("first-late-" + network);
    ASSERT_EQ(t0.size(), 60u);  // a row per gradient applied: two per bsp update
    ASSERT_EQ(t1.size(), 60u);
    for (std::size_t i = 0; i < t0.size(); ++i) EXPECT_NEAR(t1[i] - t0[i], kFirstStep, 1e-9) << network << " row " << i;
    for (std::size_t w = 0; w < 2; ++w)
      EXPECT_NEAR(charged["per_worker"][w]["compute_s"].get<double>() - free_run["per_worker"][w]["compute_s"].get<double>(),
                  kFirstStep, 1e-9)
          << network << " worker " << w;
  }
}

// A step that follows a wait is longer by the calibrated extra for that wait, interpolated
// in the time since the worker's previous step ended: one bsp worker waits the same between
// its steps, so update i comes i extras later (the first step follows no step), whether
// the wait lies beyond the last measured one or halfway to it; on its own host and on a
// shared machine's core alike.
TEST(SoftwareCosts, StepAfterAWaitIsLongerByTheInterpolatedExtra) {
  constexpr double kExtra = 0.004;
  for (const std::string cores : {"0", "2"}) {
    const std::vector<std::string> base = {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=1",
                                           "train.stop.updates=30", "train.eval_every=0", "cluster.straggler.dist=none",
                                           "cluster.link.bandwidth=1Gbps", "cluster.link.latency=1ms",
                                           "sim.network=star", "cluster.colocated_cores=" + cores};
    const auto free_run = simulate(base, "wait-free-" + cores);
    const auto t0 = update_times("wait-free-" + cores);
    ASSERT_EQ(t0.size(), 30u);
    // The gap between one step's end and the next one's start: the cycle less the step.
    const double step = free_run["per_worker"][0]["compute_s"].get<double>() / 30;
    const double gap = (t0[29] - t0[1]) / 28 - step;
    ASSERT_GT(gap, 0.002);  // two transfers of the MLP at 1 Gbit/s and their latency
    const std::vector<std::pair<std::string, std::string>> curves = {
        {"[1e-6]", fmt::format("[{}]", kExtra)},                         // every wait is beyond the last point
        {fmt::format("[{:.17g}]", 2 * gap), fmt::format("[{}]", 2 * kExtra)}};  // halfway from no wait
    for (std::size_t c = 0; c < curves.size(); ++c) {
      auto o = base;
      o.push_back("cluster.software.step_after_wait.waits=" + curves[c].first);
      o.push_back("cluster.software.step_after_wait.extra=" + curves[c].second);
      const std::string name = fmt::format("wait-{}-{}", c, cores);
      const auto charged = simulate(o, name);
      const auto t1 = update_times(name);
      ASSERT_EQ(t1.size(), 30u);
      for (std::size_t i = 0; i < t1.size(); ++i)
        EXPECT_NEAR(t1[i] - t0[i], static_cast<double>(i) * kExtra, 1e-9) << "cores " << cores << " curve " << c << " row " << i;
      EXPECT_NEAR(charged["per_worker"][0]["compute_s"].get<double>() - free_run["per_worker"][0]["compute_s"].get<double>(),
                  29 * kExtra, 1e-9)
          << "cores " << cores << " curve " << c;
    }
  }
}

// Async, four workers, transfers and compute negligible next to the server's update: the
// server's thread is the bottleneck and an update takes exactly what that thread spends
// on it: receiving the push and the pull request, applying, encoding the reply (a new
// version: a new checksum each time).
TEST(SoftwareCosts, AsyncBoundByTheServerRunsAtItsThreadsPace) {
  for (const std::string network : {"star", "simgrid"}) {
    auto o = with_costs({"model=mlp", "sim.mode=timing", "policy.name=async", "cluster.workers=4", "train.stop.updates=200",
                         "train.eval_every=0", "cluster.straggler.dist=none", "cluster.link.bandwidth=100Gbps",
                         "cluster.link.latency=0", "sim.network=" + network});
    o.push_back("cluster.software.apply.adam=1e-7");  // 8 ms per update: far above everything else
    const std::string name = "async-" + network;
    const auto s = simulate(o, name);
    const double b = s["param_bytes"].get<double>(), n = s["num_params"].get<double>();
    const double server = kReceiveMessage + kReceiveByte * b + n * (1e-7 + kAggregate) + kReceiveMessage +
                          kSendMessage + kSendByte * b;
    const auto rows = update_times(name);
    ASSERT_EQ(rows.size(), 200u);
    for (std::size_t i = 20; i < rows.size(); ++i) EXPECT_NEAR(rows[i] - rows[i - 1], server, 1e-9) << network << " row " << i;
    EXPECT_NEAR(200 / s["time_s"].get<double>() * server, 1.0, 0.02) << network;  // throughput = 1 / server time
  }
}

// A shard's thread writes the first chunk of each reply of one decision into its socket one
// after another (cluster.software.write_byte x the reply's bytes, 64 KiB at most: W per
// reply), each reply leaving as its first write begins, and is busy meanwhile. bsp, three
// identical workers whose own links are the bottleneck (the shard's is 1000x faster), no
// other cost: the round closes on the push of the worker whose reply left last; the other
// two get theirs W apart, its pull waits for both writes, so every update comes exactly 2 W
// later. The mlp's replies (318 KB) are written 64 KiB first, the softmax's (31 KB) whole.
// Async bound by the server's thread: each update costs it W more.
TEST(SoftwareCosts, RepliesLeaveOneFirstWriteApart) {
  constexpr double kWriteByte = 3e-9;
  for (const std::string model : {"mlp", "softmax"}) {
    for (const std::string network : {"star", "simgrid"}) {
      const std::vector<std::string> base = {"model=" + model, "sim.mode=timing", "policy.name=bsp", "cluster.workers=3",
                                             "train.stop.updates=50", "train.eval_every=0", "cluster.straggler.dist=none",
                                             "cluster.link.bandwidth=1Gbps", "cluster.ps_link.bandwidth=1000Gbps",
                                             "cluster.link.latency=2ms", "sim.network=" + network};
      auto written = base;
      written.push_back(fmt::format("cluster.software.write_byte={}", kWriteByte));
      const std::string tag = model + "-" + network;
      const auto unwritten_run = simulate(base, "write-bsp-free-" + tag);
      const auto written_run = simulate(written, "write-bsp-" + tag);
      EXPECT_DOUBLE_EQ(written_run["software_costs"]["write_byte"].get<double>(), kWriteByte);
      const double bytes = unwritten_run["param_bytes"].get<double>();
      ASSERT_EQ(bytes > static_cast<double>(synclab::kSocketWriteChunk), model == "mlp");
      const double w = kWriteByte * std::min(bytes, static_cast<double>(synclab::kSocketWriteChunk));
      const double t0 = unwritten_run["time_s"].get<double>(), t = written_run["time_s"].get<double>();
      EXPECT_NEAR(t - t0, 50 * 2 * w, 1e-6 * t) << tag;
      // updates.csv has a row per push applied, three per update with one time.
      const auto rows0 = update_times("write-bsp-free-" + tag), rows = update_times("write-bsp-" + tag);
      ASSERT_EQ(rows.size(), 150u);
      ASSERT_EQ(rows0.size(), 150u);
      for (std::size_t i = 0; i < rows.size(); ++i)
        EXPECT_NEAR(rows[i] - rows0[i], 2 * w * static_cast<double>(i / 3 + 1), 1e-9) << tag << " row " << i;

      auto o = with_costs({"model=" + model, "sim.mode=timing", "policy.name=async", "cluster.workers=4", "train.stop.updates=200",
                           "train.eval_every=0", "cluster.straggler.dist=none", "cluster.link.bandwidth=100Gbps",
                           "cluster.link.latency=0", "sim.network=" + network});
      o.push_back("cluster.software.apply.adam=1e-7");  // 8 ms per update (mlp), 0.8 (softmax): far above the rest
      o.push_back(fmt::format("cluster.software.write_byte={}", kWriteByte));
      const auto s = simulate(o, "write-async-" + tag);
      const double b = s["param_bytes"].get<double>(), n = s["num_params"].get<double>();
      const double server = kReceiveMessage + kReceiveByte * b + n * (1e-7 + kAggregate) + kReceiveMessage +
                            kSendMessage + kSendByte * b + w;
      const auto arows = update_times("write-async-" + tag);
      ASSERT_EQ(arows.size(), 200u);
      for (std::size_t i = 20; i < arows.size(); ++i) EXPECT_NEAR(arows[i] - arows[i - 1], server, 1e-9) << tag << " row " << i;
    }
  }
}

// Costs move time, never math: bsp in full mode ends with the same parameters with and
// without them, later; with several shards (each its own thread) too.
TEST(SoftwareCosts, ChargesChangeTimesNotResults) {
  const std::vector<std::string> base = {"model=softmax", "data.dataset=synthetic", "data.synthetic_train=1200",
                                         "data.synthetic_test=300", "data.batch=20", "train.optimizer.lr=0.01",
                                         "train.stop.updates=20", "train.eval_every=5", "train.seed=5",
                                         "cluster.workers=3", "cluster.link.bandwidth=1Gbps", "policy.name=bsp",
                                         "cluster.straggler.dist=exponential", "cluster.straggler.mean=1ms"};
  for (const std::string servers : {"1", "2"}) {
    auto o = base;
    o.push_back("cluster.servers=" + servers);
    const auto free_run = simulate(o, "math-free-" + servers);
    o.push_back("cluster.software.snapshot_byte=1e-9");
    const auto charged = simulate(with_costs(o), "math-charged-" + servers);
    EXPECT_EQ(charged["updates"], 20) << servers;
    EXPECT_EQ(charged["final_params_sha256"], free_run["final_params_sha256"]) << servers;
    EXPECT_GT(charged["time_s"].get<double>(), free_run["time_s"].get<double>()) << servers;
  }
}

// Every policy still runs to its limit with charges queued on the server's thread and a
// worker failing midway (its queued events are still served, as a real server would).
TEST(SoftwareCosts, EveryPolicyRunsWithChargesAndAFailure) {
  for (const auto& info : synclab::policy_list()) {
    std::vector<std::string> o = {"model=softmax", "sim.mode=timing", "policy.name=" + info.name, "cluster.workers=4",
                                  "train.stop.updates=25", "policy.timeout=0.01", "cluster.link.bandwidth=1Gbps",
                                  "cluster.straggler.mean=1ms", "cluster.failures=[{worker: 3, at: 0.005}]"};
    if (info.name == "backup") o.push_back("policy.backup=1");
    const auto s = simulate(with_costs(o), "all-" + info.name);
    EXPECT_EQ(s["updates"], 25) << info.name;
    EXPECT_TRUE(s["per_worker"][3]["failed"].get<bool>()) << info.name;
  }
}
