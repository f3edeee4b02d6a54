// The recommendation: a pure function of run records. Runs are built in memory: a policy
// whose accuracy climbs linearly to a final value, one evaluation per 0.5 s.
#include <cmath>
#include <tuple>

#include <gtest/gtest.h>

#include "experiments/recommendation.hpp"
#include "experiments/seed_stats.hpp"

namespace ex = synclab::experiments;

namespace {

struct Spec {
  std::string policy;
  int seed = 1;
  double rate = 0.1;        ///< accuracy gained per second
  double final_acc = 0.85;  ///< accuracy plateau
  double samples_per_s = 1000;
  double bytes = 1e6;
};

ex::RunData run(const Spec& s) {
  ex::RunData r;
  r.name = s.policy + "-" + std::to_string(s.seed);
  r.backend = "sim";
  r.config = {{"policy.name", s.policy}, {"train.seed", std::to_string(s.seed)}, {"cluster.workers", "4"}};
  for (int i = 1; i <= 40; ++i) {
    const double t = 0.5 * i;
    r.evals.push_back({t, static_cast<std::uint64_t>(i * 10), static_cast<std::uint64_t>(i * 100), 0.5,
                       std::min(s.final_acc, 0.1 + s.rate * t)});
  }
  r.summary = {{"backend", "sim"},         {"policy", s.policy},  {"workers", 4},
               {"updates", 400},           {"time_s", 20.0},      {"samples", s.samples_per_s * 20.0},
               {"final_test_accuracy", s.final_acc}, {"bytes_sent", s.bytes}};
  return r;
}

ex::ReportModel model(const std::vector<Spec>& specs, double target) {
  std::vector<ex::RunData> runs;
  for (const auto& s : specs) runs.push_back(run(s));
  ex::ReportOptions o;
  o.target = target;
  return ex::build_report_model(std::move(runs), o);
}

bool contains(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines)
    if (l.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(SeedStats, IntervalUsesTheTQuantile) {
  const auto m = ex::mean_interval({1, 2, 3});
  EXPECT_DOUBLE_EQ(m.mean, 2);
  EXPECT_DOUBLE_EQ(m.sd, 1);
  // t(0.975, 2) = 4.302653 (any t table); half width 4.302653 / sqrt(3).
  EXPECT_NEAR(m.hi - m.mean, 4.302653 / std::sqrt(3.0), 1e-5);
  EXPECT_NEAR(m.mean - m.lo, 4.302653 / std::sqrt(3.0), 1e-5);
  const auto one = ex::mean_interval({5});
  EXPECT_EQ(one.lo, 5);
  EXPECT_EQ(one.hi, 5);
}

TEST(SeedStats, WelchTestMatchesAHandComputation) {
  // a = {1, 2, 3}, b = {4, 5, 7}: t = -3 / sqrt(1/3 + 7/9) = -3.16228, df = 3.44828,
  // two-sided p = 0.04191 (numerical integration of the t density, independent of Boost).
  const auto w = ex::welch_test({1, 2, 3}, {4, 5, 7});
  ASSERT_TRUE(w.has_value());
  EXPECT_NEAR(w->t, -3.16228, 1e-5);
  EXPECT_NEAR(w->df, 3.44828, 1e-5);
  EXPECT_NEAR(w->p, 0.04191, 5e-5);
  EXPECT_FALSE(ex::welch_test({1}, {2, 3}).has_value());
  EXPECT_EQ(ex::welch_test({1, 1}, {2, 2})->p, 0.0);  // noiseless and different
  EXPECT_EQ(ex::welch_test({1, 1}, {1, 1})->p, 1.0);
}

TEST(Recommendation, ClearWinnerWithMarginRunnerUpAndTradeoff) {
  // fast reaches 0.8 at about 3.5 s but plateaus at 0.82; slow needs about 7 s and ends at 0.85.
  std::vector<Spec> specs;
  for (int seed : {1, 2, 3}) {
    specs.push_back({"fast", seed, 0.2 + 0.005 * seed, 0.82});
    specs.push_back({"slow", seed, 0.1 + 0.002 * seed, 0.85});
  }
  const auto r = ex::recommend(model(specs, 0.8), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::Clear);
  ASSERT_TRUE(r.best && r.runner_up);
  EXPECT_EQ(r.best->policy, "fast");
  EXPECT_EQ(r.runner_up->policy, "slow");
  EXPECT_EQ(r.seeds_compared, 3u);
  EXPECT_EQ(r.seeds_agreeing, 3u);
  ASSERT_TRUE(r.p_value.has_value());
  EXPECT_LT(*r.p_value, 0.05);
  // Mean times: 3.5 s vs 7.0 s (first evaluation at or above 0.8): 50% sooner.
  EXPECT_NEAR(r.best->value.mean, 3.5, 1e-9);
  EXPECT_NEAR(r.runner_up->value.mean, 7.0, 1e-9);
  EXPECT_NEAR(r.margin_pct, 50.0, 1e-9);
  EXPECT_NE(r.headline.find("Deploy fast"), std::string::npos) << r.headline;
  EXPECT_NE(r.headline.find("50% sooner"), std::string::npos) << r.headline;
  EXPECT_NE(r.confidence.find("Welch"), std::string::npos);
  EXPECT_TRUE(contains(r.tradeoffs, "fast reaches 0.80 first but ends 0.030 lower than slow")) << r.tradeoffs.size();
}

TEST(Recommendation, WithinNoiseCrownsNobody) {
  std::vector<Spec> specs;
  const double a[] = {0.20, 0.10, 0.16}, b[] = {0.12, 0.18, 0.15};
  for (int i = 0; i < 3; ++i) {
    specs.push_back({"a", i + 1, a[i]});
    specs.push_back({"b", i + 1, b[i]});
  }
  const auto r = ex::recommend(model(specs, 0.7), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::WithinNoise);
  EXPECT_EQ(r.tied.size(), 2u);
  EXPECT_EQ(r.headline.find("Deploy"), std::string::npos) << r.headline;
  EXPECT_NE(r.headline.find("No clear winner"), std::string::npos) << r.headline;
  EXPECT_NE(r.confidence.find("p = "), std::string::npos);
}

TEST(Recommendation, SeedsThatDisagreeAreReported) {
  // Significant on average over six seeds, but seed 6 ranks them the other way round.
  std::vector<Spec> specs;
  for (int seed = 1; seed <= 6; ++seed) {
    specs.push_back({"usually", seed, 0, 0.85, seed == 6 ? 990.0 : 2000.0});
    specs.push_back({"steady", seed, 0, 0.85, 1000.0 + seed});
  }
  const auto r = ex::recommend(model(specs, 0.5), ex::Objective::Throughput);
  EXPECT_EQ(r.certainty, ex::Certainty::SeedsDisagree) << r.confidence;
  EXPECT_EQ(r.seeds_compared, 6u);
  EXPECT_EQ(r.seeds_agreeing, 5u);
  EXPECT_NE(r.headline.find("seeds disagree"), std::string::npos) << r.headline;
}

TEST(Recommendation, OneSeedSaysTheNoiseIsUnknown) {
  const auto r = ex::recommend(model({{"a", 1, 0.2}, {"b", 1, 0.1}}, 0.7), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::SingleSeed);
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->policy, "a");
  EXPECT_FALSE(r.p_value.has_value());
  EXPECT_NE(r.headline.find("one seed"), std::string::npos) << r.headline;
}

TEST(Recommendation, ConfigsMissingTheTargetAreLeftOutAndNamed) {
  std::vector<Spec> specs;
  for (int seed : {1, 2}) {
    specs.push_back({"never", seed, 0.2, 0.6});
    specs.push_back({"sometimes", seed, 0.2, seed == 1 ? 0.9 : 0.6});
  }
  auto r = ex::recommend(model(specs, 0.8), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::NoCandidate);
  EXPECT_FALSE(r.best.has_value());
  EXPECT_TRUE(contains(r.excluded, "sometimes: reached 0.80 in 1 of 2 seeds"));
  EXPECT_NE(r.headline.find("No config reached 0.80"), std::string::npos) << r.headline;
  specs.push_back({"always", 1, 0.25, 0.9});
  specs.push_back({"always", 2, 0.26, 0.9});
  r = ex::recommend(model(specs, 0.8), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::Alone);
  EXPECT_EQ(r.best->policy, "always");
}

TEST(Recommendation, ObjectivesPickTheirOwnWinner) {
  std::vector<Spec> specs;
  for (int seed : {1, 2, 3}) {
    // quick: fastest to 0.8, lowest plateau; accurate: best plateau; busy: most samples/s;
    // thrifty: fewest bytes.
    specs.push_back({"quick", seed, 0.3 + 0.01 * seed, 0.81, 1000.0 + seed, 4e6});
    specs.push_back({"accurate", seed, 0.1 + 0.01 * seed, 0.90 + 0.001 * seed, 1100.0 + seed, 4e6});
    specs.push_back({"busy", seed, 0.15 + 0.01 * seed, 0.83, 3000.0 + seed, 4e6});
    specs.push_back({"thrifty", seed, 0.12 + 0.01 * seed, 0.84, 900.0 + seed, 1e6});
  }
  const auto m = model(specs, 0.8);
  EXPECT_EQ(ex::recommend(m, ex::Objective::TimeToTarget).best->policy, "quick");
  EXPECT_EQ(ex::recommend(m, ex::Objective::FinalAccuracy).best->policy, "accurate");
  EXPECT_EQ(ex::recommend(m, ex::Objective::Throughput).best->policy, "busy");
  const auto cost = ex::recommend(m, ex::Objective::Cost);
  EXPECT_EQ(cost.best->policy, "thrifty");
  EXPECT_EQ(cost.unit, "bytes");
  // Accuracy objective: the trade-off names what the winner gives up on time.
  const auto acc = ex::recommend(m, ex::Objective::FinalAccuracy);
  EXPECT_FALSE(acc.lower_is_better);
  EXPECT_EQ(acc.certainty, ex::Certainty::Clear);
  EXPECT_TRUE(contains(acc.tradeoffs, "reaches 0.80 accuracy sooner")) << acc.tradeoffs.size();
  EXPECT_EQ(ex::parse_objective("cost"), ex::Objective::Cost);
  EXPECT_FALSE(ex::parse_objective("speed").has_value());
}

TEST(Recommendation, TimingModeFallsBackToThroughput) {
  std::vector<ex::RunData> runs;
  for (int seed : {1, 2}) {
    auto a = run({"a", seed, 0, 0, 500.0 + seed});
    auto b = run({"b", seed, 0, 0, 800.0 + seed});
    a.evals.clear();
    b.evals.clear();
    runs.push_back(a);
    runs.push_back(b);
  }
  const auto m = ex::build_report_model(std::move(runs), {});
  const auto r = ex::recommend(m, ex::Objective::TimeToTarget);
  EXPECT_EQ(r.objective, ex::Objective::Throughput);
  EXPECT_EQ(r.best->policy, "b");
  EXPECT_TRUE(contains(r.excluded, "timing mode"));
}

TEST(Recommendation, AFidelityReportRanksTheRealConfigsAndSaysWhatSimulationWouldPick) {
  // Real: "steady" reaches 0.8 first. Simulated twice (two network models): one variant
  // agrees, the other is faster than every real run and ranks "bursty" first.
  std::vector<ex::RunData> runs;
  for (int seed : {1, 2, 3}) {
    auto add = [&](const std::string& policy, const std::string& backend, const std::string& network, double rate) {
      auto r = run({policy, seed, rate + 0.002 * seed});
      r.backend = backend;
      r.summary["backend"] = backend;
      if (!network.empty()) r.config["sim.network"] = network;
      runs.push_back(r);
    };
    add("steady", "real", "", 0.20);
    add("bursty", "real", "", 0.10);
    add("steady", "sim", "packet", 0.21);
    add("bursty", "sim", "packet", 0.11);
    add("steady", "sim", "fluid", 0.30);
    add("bursty", "sim", "fluid", 0.50);
  }
  ex::ReportOptions o;
  o.target = 0.8;
  const auto m = ex::build_report_model(std::move(runs), o);
  const auto r = ex::recommend(m, ex::Objective::TimeToTarget);
  ASSERT_TRUE(r.best && r.runner_up);
  EXPECT_EQ(r.best->label, "real: steady");
  EXPECT_EQ(r.runner_up->label, "real: bursty");
  EXPECT_NE(r.basis.find("2 real configs"), std::string::npos) << r.basis;
  EXPECT_EQ(r.basis.find("without a real run"), std::string::npos) << r.basis;
  ASSERT_EQ(r.simulated_picks.size(), 2u);
  // Mean real time of steady: seeds reach 0.8 at 3.5 s each (rates 0.202-0.206 per s).
  EXPECT_TRUE(contains(r.simulated_picks, "Simulation [sim.network=packet] ranks the same config first: steady"))
      << r.simulated_picks[0] << " | " << r.simulated_picks[1];
  EXPECT_TRUE(contains(r.simulated_picks, "Simulation [sim.network=fluid] ranks bursty first instead"))
      << r.simulated_picks[0] << " | " << r.simulated_picks[1];
  EXPECT_TRUE(contains(r.simulated_picks, "the real runs rank steady first (3.5 s)"));
  // The simulated groups are told apart by the key they differ in, not numbered.
  for (const auto& g : m.groups) EXPECT_EQ(g.label.find('#'), std::string::npos) << g.label;
  EXPECT_EQ(r.sim_real.size(), 4u);
}

TEST(Recommendation, ASimulatedConfigWithoutARealTwinIsNotRankedAndSaidSo) {
  // bsp ran in both worlds; fast only in simulation, where it beats everything.
  std::vector<ex::RunData> runs;
  for (int seed : {1, 2}) {
    for (const auto& [policy, backend, rate] :
         {std::tuple{"bsp", "real", 0.2}, std::tuple{"bsp", "sim", 0.21}, std::tuple{"fast", "sim", 0.5}}) {
      auto r = run({policy, seed, rate + 0.002 * seed});
      r.backend = backend;
      r.summary["backend"] = backend;
      runs.push_back(r);
    }
  }
  ex::ReportOptions o;
  o.target = 0.8;
  const auto r = ex::recommend(ex::build_report_model(std::move(runs), o), ex::Objective::TimeToTarget);
  EXPECT_EQ(r.certainty, ex::Certainty::Alone);
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->label, "real: bsp");
  EXPECT_NE(r.basis.find("1 simulated config without a real run is not ranked"), std::string::npos) << r.basis;
}

TEST(Recommendation, ASweepWithoutRealRunsRanksEveryConfig) {
  // Only simulated runs: nothing is set aside and no simulated pick is said.
  const auto r = ex::recommend(model({{"a", 1, 0.2}, {"b", 1, 0.1}}, 0.7), ex::Objective::TimeToTarget);
  EXPECT_TRUE(r.basis.empty());
  EXPECT_TRUE(r.simulated_picks.empty());
  EXPECT_EQ(r.best->policy, "a");
}
