// policy_orders: policies of one setting ranked by time to target in each world, unreached
// ones last by accuracy, settings and sim variants kept apart, the Kendall distance counted.
#include <gtest/gtest.h>

#include <deque>

#include "experiments/policy_order.hpp"

namespace ex = synclab::experiments;

namespace {

struct Groups {
  std::deque<ex::RunGroup> store;  // stable addresses for the pairs' pointers
  const ex::RunGroup* add(const std::string& backend, const std::string& policy, int workers, std::optional<double> tta, double acc,
                          std::map<std::string, std::string> extra = {}) {
    ex::RunGroup g;
    g.backend = backend;
    g.label = backend + ": " + policy;
    g.config = {{"policy.name", policy}, {"cluster.workers", std::to_string(workers)}, {"sim.network", "packet"}};
    for (auto& [k, v] : extra) g.config[k] = v;
    g.time_to_target = tta;
    g.final_accuracy.mean = acc;
    store.push_back(std::move(g));
    return &store.back();
  }
  ex::SimRealPair pair(const ex::RunGroup* sim, const ex::RunGroup* real, std::string variant = {}) {
    ex::SimRealPair p;
    p.sim = sim;
    p.real = real;
    p.sim_variant = std::move(variant);
    return p;
  }
};

TEST(PolicyOrder, RanksByTimeToTargetAndCountsSwappedPairs) {
  Groups g;
  std::vector<ex::SimRealPair> pairs = {
      g.pair(g.add("sim", "bsp", 4, 3.0, 0.8), g.add("real", "bsp", 4, 3.3, 0.8)),
      g.pair(g.add("sim", "async", 4, 2.0, 0.8), g.add("real", "async", 4, 2.9, 0.8)),
      g.pair(g.add("sim", "ssp", 4, 2.5, 0.8, {{"policy.staleness", "2"}}), g.add("real", "ssp", 4, 2.6, 0.8, {{"policy.staleness", "2"}})),
      // another worker count is another setting, in the same order both ways
      g.pair(g.add("sim", "bsp", 2, 5.0, 0.8), g.add("real", "bsp", 2, 5.5, 0.8)),
      g.pair(g.add("sim", "async", 2, 4.0, 0.8), g.add("real", "async", 2, 4.1, 0.8)),
  };
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 2u);
  EXPECT_EQ(orders[0].setting, "cluster.workers=4");
  EXPECT_EQ(orders[0].sim, (std::vector<std::string>{"async", "ssp staleness=2", "bsp"}));
  EXPECT_EQ(orders[0].real, (std::vector<std::string>{"ssp staleness=2", "async", "bsp"}));
  EXPECT_FALSE(orders[0].same());
  EXPECT_EQ(orders[0].discordant, 1u);
  EXPECT_EQ(orders[1].setting, "cluster.workers=2");
  EXPECT_TRUE(orders[1].same());
  EXPECT_EQ(orders[1].discordant, 0u);
}

TEST(PolicyOrder, UnreachedGoLastByAccuracyAndReversedOrdersCountEveryPair) {
  Groups g;
  std::vector<ex::SimRealPair> pairs = {
      g.pair(g.add("sim", "a", 3, std::nullopt, 0.70), g.add("real", "a", 3, 1.0, 0.9)),
      g.pair(g.add("sim", "b", 3, std::nullopt, 0.75), g.add("real", "b", 3, 2.0, 0.9)),
      g.pair(g.add("sim", "c", 3, 1.0, 0.9), g.add("real", "c", 3, std::nullopt, 0.6)),
  };
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].sim, (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(orders[0].real, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(orders[0].discordant, 3u);
}

TEST(PolicyOrder, SimVariantsAreSeparateSettingsAndLonePoliciesAreLeftOut) {
  Groups g;
  const auto* real_bsp = g.add("real", "bsp", 3, 2.0, 0.8);
  const auto* real_async = g.add("real", "async", 3, 1.0, 0.8);
  std::vector<ex::SimRealPair> pairs = {
      g.pair(g.add("sim", "bsp", 3, 2.0, 0.8), real_bsp, "sim.network=fluid"),
      g.pair(g.add("sim", "async", 3, 3.0, 0.8), real_async, "sim.network=fluid"),
      g.pair(g.add("sim", "bsp", 3, 2.0, 0.8), real_bsp, "sim.network=packet"),
      g.pair(g.add("sim", "async", 3, 1.5, 0.8), real_async, "sim.network=packet"),
      g.pair(g.add("sim", "bsp", 9, 2.0, 0.8), g.add("real", "bsp", 9, 2.0, 0.8)),  // one policy: no order
  };
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 2u);
  EXPECT_EQ(orders[0].sim_variant, "sim.network=fluid");
  EXPECT_FALSE(orders[0].same());
  EXPECT_EQ(orders[1].sim_variant, "sim.network=packet");
  EXPECT_TRUE(orders[1].same());
  EXPECT_EQ(orders[1].real, (std::vector<std::string>{"async", "bsp"}));
}

}  // namespace
