// policy_orders: policies of one setting ranked by time to target in each world, unreached
// ones last by accuracy, settings and sim variants kept apart, the Kendall distance counted,
// pairs whose real seeds overlap counted as ties.
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
  // A group over seeds: tta from its seeds' times to target (reached = false: some seed missed it).
  const ex::RunGroup* seeds(const std::string& backend, const std::string& policy, const std::vector<double>& times,
                            const std::vector<double>& accs, bool reached = true) {
    add(backend, policy, 4, std::nullopt, 0);
    ex::RunGroup& g = store.back();
    g.final_accuracy = ex::make_spread(accs);
    if (reached) {
      g.tta = ex::make_spread(times);
      g.time_to_target = g.tta->mean;
    }
    return &g;
  }
  // A group over seeds that reached the target with some of them only, the first at `fastest`.
  const ex::RunGroup* partial(const std::string& backend, const std::string& policy, double fastest, const std::vector<double>& accs) {
    seeds(backend, policy, {}, accs, false);
    ex::RunGroup& g = store.back();
    g.reached = accs.size() - 1;
    g.fastest_to_target = fastest;
    return &g;
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

TEST(PolicyOrder, PairsWhoseRealSeedsOverlapAreTiesNotSwaps) {
  Groups g;
  // Real: a (1.8-2.3 s) and b (2.1-2.4 s) overlap; c (3.8-4.2 s) is apart from both.
  const auto* ra = g.seeds("real", "a", {1.8, 2.0, 2.3}, {0.8, 0.8, 0.8});
  const auto* rb = g.seeds("real", "b", {2.1, 2.2, 2.4}, {0.8, 0.8, 0.8});
  const auto* rc = g.seeds("real", "c", {3.8, 4.0, 4.2}, {0.8, 0.8, 0.8});
  EXPECT_TRUE(ex::tied(*ra, *rb));
  EXPECT_FALSE(ex::tied(*ra, *rc));
  std::vector<ex::SimRealPair> swap_tied = {g.pair(g.seeds("sim", "a", {2.3, 2.3}, {0.8, 0.8}), ra),
                                            g.pair(g.seeds("sim", "b", {2.1, 2.1}, {0.8, 0.8}), rb),
                                            g.pair(g.seeds("sim", "c", {4.0, 4.0}, {0.8, 0.8}), rc)};
  auto orders = ex::policy_orders(swap_tied);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].sim, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_FALSE(orders[0].same());
  EXPECT_EQ(orders[0].discordant, 1u);
  EXPECT_EQ(orders[0].tied, 1u);
  EXPECT_EQ(orders[0].tied_discordant, 1u);
  EXPECT_TRUE(orders[0].agrees());
  EXPECT_EQ(ex::agreement_text(orders[0]), "same order but for 1 real tie(s)");

  // c simulated first: two swaps the real runs tell apart, one within the tie.
  std::vector<ex::SimRealPair> swap_apart = {g.pair(g.seeds("sim", "a", {2.3}, {0.8}), ra), g.pair(g.seeds("sim", "b", {2.1}, {0.8}), rb),
                                             g.pair(g.seeds("sim", "c", {1.0}, {0.8}), rc)};
  orders = ex::policy_orders(swap_apart);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].discordant, 3u);
  EXPECT_EQ(orders[0].tied_discordant, 1u);
  EXPECT_FALSE(orders[0].agrees());
  EXPECT_EQ(ex::agreement_text(orders[0]), "2 pair(s) swapped, 1 more within real ties");
}

TEST(PolicyOrder, OneSeedNeverTiesAndMissesTieOnOverlappingAccuracy) {
  Groups g;
  // One seed each: equal times are still an order (nothing says how far a seed moves them).
  EXPECT_FALSE(ex::tied(*g.seeds("real", "a", {2.0}, {0.8}), *g.seeds("real", "b", {2.0}, {0.8})));
  // Neither reached the target: tied when their final accuracies overlap over seeds.
  const auto* m1 = g.seeds("real", "m1", {}, {0.70, 0.72}, false);
  const auto* m2 = g.seeds("real", "m2", {}, {0.71, 0.75}, false);
  const auto* m3 = g.seeds("real", "m3", {}, {0.60, 0.62}, false);
  EXPECT_TRUE(ex::tied(*m1, *m2));
  EXPECT_FALSE(ex::tied(*m1, *m3));
  // One reached it, the other never did: never tied.
  EXPECT_FALSE(ex::tied(*g.seeds("real", "r", {5.0, 9.0}, {0.71, 0.72}), *m1));
  std::vector<ex::SimRealPair> pairs = {g.pair(g.seeds("sim", "m1", {}, {0.70}, false), m1),
                                        g.pair(g.seeds("sim", "m2", {}, {0.69}, false), m2)};
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].real, (std::vector<std::string>{"m2", "m1"}));
  EXPECT_EQ(orders[0].sim, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_TRUE(orders[0].agrees());
  EXPECT_EQ(ex::agreement_text(orders[0]), "same order but for 1 real tie(s)");
}

// A policy that reached the target with every seed ranks before one that missed it with
// some; but when a seed of the second got there before the first's slowest seed, the real
// order depends on the seed: a tie.
TEST(PolicyOrder, APolicyThatMissedWithSomeSeedsTiesWhereItsOthersWereFaster) {
  Groups g;
  const auto* all = g.seeds("real", "all", {2.0, 2.5, 3.0}, {0.80, 0.80, 0.80});
  const auto partial = [&](double fastest) { return g.partial("real", "some", fastest, {0.80, 0.79, 0.70}); };
  EXPECT_TRUE(ex::tied(*all, *partial(2.8)));
  EXPECT_TRUE(ex::tied(*partial(3.0), *all));
  EXPECT_FALSE(ex::tied(*all, *partial(3.2))) << "its fastest seed came after the other's slowest";
  EXPECT_FALSE(ex::tied(*g.seeds("real", "one", {2.0}, {0.8}), *partial(1.0))) << "one seed never ties";

  // Real: "all" first (every seed), "some" after; simulated the other way round: a swap
  // within a real tie, not a wrong order.
  const auto* some = partial(2.2);
  std::vector<ex::SimRealPair> pairs = {g.pair(g.seeds("sim", "all", {2.6, 2.6}, {0.8, 0.8}), all),
                                        g.pair(g.seeds("sim", "some", {2.1, 2.3}, {0.8, 0.8}), some)};
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 1u);
  EXPECT_EQ(orders[0].real, (std::vector<std::string>{"all", "some"}));
  EXPECT_EQ(orders[0].sim, (std::vector<std::string>{"some", "all"}));
  EXPECT_EQ(orders[0].tied_discordant, 1u);
  EXPECT_EQ(ex::agreement_text(orders[0]), "same order but for 1 real tie(s)");
}

}  // namespace

// Settings of two calibrated platforms: the measured costs change with the tag and say
// nothing the tag does not, so the setting's name leaves them out.
TEST(PolicyOrder, SettingNamesLeaveOutKeysTheOthersImply) {
  Groups g;
  std::vector<ex::SimRealPair> pairs;
  for (const auto& [tag, cost] : {std::pair{"100Mbps", "1.23037e-10"}, std::pair{"1Gbps", "1.21482e-10"}})
    for (const int workers : {2, 4}) {
      const std::map<std::string, std::string> extra = {{"tag", tag}, {"cluster.software.aggregate", cost}};
      pairs.push_back(g.pair(g.add("sim", "bsp", workers, 3.0, 0.8, extra), g.add("real", "bsp", workers, 3.0, 0.8, extra)));
      pairs.push_back(g.pair(g.add("sim", "async", workers, 2.0, 0.8, extra), g.add("real", "async", workers, 2.0, 0.8, extra)));
    }
  const auto orders = ex::policy_orders(pairs);
  ASSERT_EQ(orders.size(), 4u);
  EXPECT_EQ(orders[0].setting, "cluster.workers=2 tag=100Mbps");
  EXPECT_EQ(orders[3].setting, "cluster.workers=4 tag=1Gbps");
}
