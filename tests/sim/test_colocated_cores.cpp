// Hosts that share one machine's cores (cluster.colocated_cores): closed forms of what the
// sharing adds (two steps on one core; a transfer whose kernel work outlasts its wire time;
// a slowed worker whose wait takes no core; a shard's writes not slowed by the kernel work
// of the replies they start), every policy (cancels and failures included)
// running to its limit, the same run twice giving the same times, and the config errors.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "policies/registry.hpp"
#include "sim/simulation.hpp"
#include "tests/sim/run_in_child.hpp"
#include "tests/sim/scratch_runs.hpp"
#include "tests/sim/simulated_summary.hpp"

using synclab::sim::testing::run_in_child;

namespace {

const synclab::sim::testing::ScratchCleanup scratch_cleanup{"colocated"};

nlohmann::json simulate(const std::vector<std::string>& overrides, const std::string& name) {
  return synclab::sim::testing::simulated_summary("colocated", overrides, name);
}

constexpr double kFlops = 3.2e10;  // flop/s of every worker: an MLP step of batch 100 in about 1 ms

// bsp in timing mode with no noise, software free, on the exact star solver.
std::vector<std::string> bsp(const std::string& workers, const std::string& bandwidth) {
  return {"model=mlp", "sim.mode=timing", "policy.name=bsp", "cluster.workers=" + workers, "train.stop.updates=50",
          "train.eval_every=0", "cluster.straggler.dist=none", "cluster.gpu.flops=3.2e10", "cluster.gpu.efficiency=1",
          "cluster.link.bandwidth=" + bandwidth, "cluster.link.latency=0", "sim.network=star"};
}

std::vector<std::string> plus(std::vector<std::string> o, const std::vector<std::string>& more) {
  o.insert(o.end(), more.begin(), more.end());
  return o;
}

double step_seconds(const nlohmann::json& s) { return s["step_flops"].get<double>() / kFlops; }

}  // namespace

// Two bsp workers whose steps start together: on one shared core each runs at half speed,
// so every update comes one step later than with a CPU per host; on two cores, no change.
TEST(ColocatedCores, TwoStepsOnOneCoreTakeTwiceAsLong) {
  const auto base = bsp("2", "1000Gbps");
  const auto own = simulate(base, "steps-own");
  const auto one = simulate(plus(base, {"cluster.colocated_cores=1"}), "steps-one");
  const auto two = simulate(plus(base, {"cluster.colocated_cores=2"}), "steps-two");
  const double t = step_seconds(own);
  EXPECT_EQ(own["cpu"], "a CPU per host");
  EXPECT_EQ(one["cpu"], "one machine of 1 cores shared by every host");
  EXPECT_NEAR(one["time_s"].get<double>() - own["time_s"].get<double>(), 50 * t, 1e-9);
  EXPECT_NEAR(two["time_s"].get<double>(), own["time_s"].get<double>(), 1e-9);
  EXPECT_NEAR(one["per_worker"][0]["compute_s"].get<double>(), 2 * 50 * t, 1e-9);
}

// One worker: its push and the reply each cost the kernel kernel_byte x M of CPU beside
// M / B on the wire; the message is in when both are done. Kernel work twice the wire time
// makes every transfer take the kernel's time instead; below the wire time it costs nothing.
TEST(ColocatedCores, KernelWorkBoundsATransferWhenItOutlastsTheWire) {
  const auto base = bsp("1", "1Gbps");
  const auto own = simulate(base, "kernel-own");
  const double m = own["param_bytes"].get<double>(), wire = m / 1.25e8;
  const auto slow = simulate(plus(base, {"cluster.colocated_cores=1", "cluster.software.kernel_byte=1.6e-8"}), "kernel-slow");
  const auto fast = simulate(plus(base, {"cluster.colocated_cores=1", "cluster.software.kernel_byte=4e-9"}), "kernel-fast");
  EXPECT_DOUBLE_EQ(slow["software_costs"]["kernel_byte"].get<double>(), 1.6e-8);
  EXPECT_NEAR(slow["time_s"].get<double>() - own["time_s"].get<double>(), 50 * 2 * (1.6e-8 * m - wire), 1e-9);
  // The kernel's pieces are whole bytes' work: a few nanoseconds over the run.
  EXPECT_NEAR(fast["time_s"].get<double>(), own["time_s"].get<double>(), 1e-6);
}

// The kernel's work follows each transfer's bytes whichever model moves them: the star
// and SimGrid's solver share the link the same way, so they give the same times (to the
// rounding of a byte per charge); the packet model runs too; each costs time over a run
// without kernel work.
TEST(ColocatedCores, KernelWorkFollowsTheBytesOfEveryNetworkModel) {
  auto with = [](const std::string& network, const std::string& kernel) {
    auto o = bsp("3", "1Gbps");
    std::erase(o, std::string("sim.network=star"));
    o.insert(o.end(), {"sim.network=" + network, "cluster.colocated_cores=2", "cluster.software.kernel_byte=" + kernel});
    return o;
  };
  const auto star = simulate(with("star", "6e-9"), "follow-star");
  const auto simgrid = simulate(with("simgrid", "6e-9"), "follow-simgrid");
  const auto packet = simulate(with("packet", "6e-9"), "follow-packet");
  EXPECT_NEAR(simgrid["time_s"].get<double>(), star["time_s"].get<double>(), 1e-6 * star["time_s"].get<double>());
  EXPECT_GT(star["time_s"].get<double>(), simulate(with("star", "0"), "follow-star-free")["time_s"].get<double>());
  EXPECT_GT(packet["time_s"].get<double>(), simulate(with("packet", "0"), "follow-packet-free")["time_s"].get<double>());
}

// A shard's replies leave one first write apart even on a core its kernel work fills:
// calibrate times a write with the kernel's work inside it, and kernel_byte charges that
// work with the reply's transfer, so the write lasts as timed. bsp, three workers, one
// core, kernel work twice the wire time: every round's three replies start exactly
// write_byte x 64 KiB apart (sim.trace's transfer starts).
TEST(ColocatedCores, AShardsWritesAreNotSlowedByItsRepliesKernelWork) {
  constexpr double kWriteByte = 3e-9;
  const auto run = simulate(plus(bsp("3", "1Gbps"), {"cluster.colocated_cores=1", "cluster.software.kernel_byte=1.6e-8",
                                                     "cluster.software.write_byte=3e-9", "sim.trace=on"}),
                            "writes-beside-kernel");
  ASSERT_GT(run["param_bytes"].get<double>(), 65536.0);
  const double w = kWriteByte * 65536;
  std::ifstream in(synclab::sim::testing::scratch_root("colocated") / "writes-beside-kernel" / "trace" / "messages.csv");
  ASSERT_TRUE(in) << "the run wrote no trace";
  std::string line;
  std::getline(in, line);  // direction,peer,bytes,start_s,end_s,status
  std::vector<double> starts;
  while (std::getline(in, line))
    if (line.rfind("reply,", 0) == 0) {
      std::stringstream row(line);
      std::string field;
      for (int k = 0; k < 4; ++k) std::getline(row, field, ',');
      starts.push_back(std::stod(field));
    }
  // A first pull's reply per worker (each its own decision), then three per update (the
  // run stops inside the last update's writes).
  ASSERT_GE(starts.size(), 3u * 50);
  for (std::size_t r = 3; r + 2 < starts.size(); r += 3) {
    EXPECT_NEAR(starts[r + 1] - starts[r], w, 1e-9) << "round " << r / 3;
    EXPECT_NEAR(starts[r + 2] - starts[r + 1], w, 1e-9) << "round " << r / 3;
  }
}

// A worker at speed 0.5 on a shared core: like a real slowed worker it computes (sharing
// the core: 2 t for both) and then waits as long again without a core (its measured step
// over its speed), so the bsp update takes 4 t where separate CPUs take 2 t.
TEST(ColocatedCores, ASlowedWorkersWaitTakesNoCore) {
  const auto base = plus(bsp("2", "1000Gbps"), {"cluster.speeds=[1, 0.5]"});
  const auto own = simulate(base, "slowed-own");
  const auto one = simulate(plus(base, {"cluster.colocated_cores=1"}), "slowed-one");
  const double t = step_seconds(own);
  EXPECT_NEAR(one["time_s"].get<double>() - own["time_s"].get<double>(), 50 * 2 * t, 1e-9);
}

// Every policy runs to its limit on one shared core with software and kernel costs, noise,
// evaluations and a worker failing midway (its work leaves the core); ksync and kbatch-sync
// cancel steps that are running on it. The same config twice gives the same times.
TEST(ColocatedCores, EveryPolicyRunsAndRepeats) {
  for (const auto& info : synclab::policy_list()) {
    std::vector<std::string> o = {"model=softmax", "data.dataset=synthetic", "data.synthetic_train=600",
                                  "data.synthetic_test=200", "data.batch=20", "policy.name=" + info.name,
                                  "cluster.workers=4", "train.stop.updates=25", "train.eval_every=5",
                                  "policy.timeout=0.01", "cluster.link.bandwidth=1Gbps", "cluster.straggler.mean=1ms",
                                  "cluster.failures=[{worker: 3, at: 0.005}]", "cluster.colocated_cores=1",
                                  "cluster.software.kernel_byte=2e-9", "cluster.software.evaluate_sample=1e-6",
                                  "cluster.software.receive_byte=1e-9", "cluster.software.apply.sgd=1e-8"};
    if (info.name == "backup") o.push_back("policy.backup=1");
    const auto a = simulate(o, "all-" + info.name);
    const auto b = simulate(o, "again-" + info.name);
    EXPECT_EQ(a["updates"], 25) << info.name;
    EXPECT_TRUE(a["per_worker"][3]["failed"].get<bool>()) << info.name;
    EXPECT_EQ(a["time_s"], b["time_s"]) << info.name;
    EXPECT_EQ(a["final_params_sha256"], b["final_params_sha256"]) << info.name;
    if (info.name == "ksync" || info.name == "kbatch-sync") {
      int cancelled = 0;
      for (const auto& w : a["per_worker"]) cancelled += w["cancelled"].get<int>();
      EXPECT_GT(cancelled, 0) << info.name << " cancels the steps still running when a round closes";
    }
  }
}

// The kernel's work held up a step by an even share of the core; calibrate's spread
// (cluster.software.step_beside_kernel) redraws each step's extra, its mean kept: a spread
// of equal quantiles changes nothing, an uneven one changes the timeline and repeats, and
// with a CPU per host no step is held up, so there is nothing to redraw.
TEST(ColocatedCores, StepBesideKernelRedrawsTheExtraOfAStep) {
  const std::vector<std::string> base = {"model=mlp", "sim.mode=timing", "policy.name=async", "cluster.workers=2",
                                         "train.stop.updates=200", "train.eval_every=0", "cluster.straggler.dist=none",
                                         "cluster.gpu.flops=3.2e10", "cluster.gpu.efficiency=1",
                                         "cluster.link.bandwidth=1Gbps", "cluster.link.latency=0", "sim.network=star",
                                         "cluster.software.kernel_byte=4e-9"};
  const std::string lumpy = "cluster.software.step_beside_kernel=[0, 0, 0.5, 3.5]";
  const auto even = simulate(plus(base, {"cluster.colocated_cores=1"}), "beside-even");
  const auto flat = simulate(plus(base, {"cluster.colocated_cores=1", "cluster.software.step_beside_kernel=[2, 2, 2]"}),
                             "beside-flat");
  const auto a = simulate(plus(base, {"cluster.colocated_cores=1", lumpy}), "beside-lumpy");
  const auto b = simulate(plus(base, {"cluster.colocated_cores=1", lumpy}), "beside-lumpy-again");
  EXPECT_EQ(flat["time_s"], even["time_s"]);
  EXPECT_NE(a["time_s"], even["time_s"]);
  EXPECT_EQ(a["time_s"], b["time_s"]);
  EXPECT_EQ(a["software_costs"]["step_beside_kernel"].size(), 4u);
  // Lumps of up to 3.5 times the even extra, some steps none: the steps' time spreads out
  // but stays near the even share's over 200 updates.
  EXPECT_NEAR(a["per_worker"][0]["compute_s"].get<double>(), even["per_worker"][0]["compute_s"].get<double>(),
              0.25 * even["per_worker"][0]["compute_s"].get<double>());
  const auto own = simulate(base, "beside-own");
  const auto own_lumpy = simulate(plus(base, {lumpy}), "beside-own-lumpy");
  EXPECT_EQ(own_lumpy["time_s"], own["time_s"]);
}

// The first step's extra is every worker's backend start-up sharing the core, not a step
// beside a transfer: it is not redrawn. Two bsp workers on one core with a start-up of 1 s
// each: their first steps take about 2 s, 1 s more than their work; lumps up to four times
// the even extra change the run by a few steps' time at most (the later steps' extra,
// milliseconds), where redrawing the first step's second would move it by seconds.
TEST(ColocatedCores, TheFirstStepsStartUpIsNotRedrawn) {
  const auto base = plus(bsp("2", "1000Gbps"), {"cluster.colocated_cores=1", "cluster.software.first_step=1",
                                                "train.stop.updates=5"});
  const auto even = simulate(base, "startup-even");
  const auto lumpy = simulate(plus(base, {"cluster.software.step_beside_kernel=[0, 0, 0, 4]"}), "startup-lumpy");
  EXPECT_GT(even["time_s"].get<double>(), 2.0);
  EXPECT_NEAR(lumpy["time_s"].get<double>(), even["time_s"].get<double>(), 0.05);
}

TEST(ColocatedCores, ConfigErrorsNameTheKey) {
  auto key_of = [](const std::vector<std::string>& o) {
    try {
      const auto config = synclab::load_run_config("", o);
      synclab::sim::simulate(config, synclab::sim::testing::scratch("colocated", "refused"));
    } catch (const synclab::ConfigError& e) {
      return e.key();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(key_of(plus(bsp("2", "1Gbps"), {"cluster.colocated_cores=-1"})), "cluster.colocated_cores");
  // A process cannot run faster than a core of the machine it shares.
  EXPECT_EQ(run_in_child([&] { return key_of(plus(bsp("2", "1Gbps"), {"cluster.colocated_cores=2", "cluster.speeds=[1, 2]"})); }),
            "cluster.speeds");
}
