// A lost worker under a synchronous policy leads to a defined decision: wait up to the
// timeout and continue with the others, or stop with a clear error; never a silent hang.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace synclab {
namespace {

InprocResult run_bsp(std::map<std::string, std::string> params, std::vector<InprocFailure> failures, std::uint64_t updates = 12) {
  InprocOptions o;
  o.policy = test::policy_spec("bsp", std::move(params));
  o.max_updates = updates;
  o.failures = std::move(failures);
  auto inst = make_policy(o.policy, 3);
  InprocDriver d(o, {}, test::timing_setups(3, inst.worker));
  return d.run();
}

bool has_note(const InprocResult& r, const std::string& text) {
  for (const auto& e : r.events)
    if (e.kind == InprocEvent::Kind::Note && e.text.find(text) != std::string::npos) return true;
  return false;
}

TEST(LostWorker, BspContinuesWithTheOthersAfterTheTimeout) {
  // Steps take 1 s; worker 1 dies at 2.5 s, in the middle of round 2 (version 2).
  const InprocResult r = run_bsp({{"timeout", "4"}}, {{1, 2.5, -1}});
  ASSERT_EQ(r.stop_reason, "updates");
  EXPECT_FALSE(r.stop);
  EXPECT_TRUE(has_note(r, "worker 1 lost; waiting up to 4 s"));
  EXPECT_TRUE(has_note(r, "worker 1 did not rejoin within 4 s; continuing with 2 workers"));
  // Rounds 1-2 had 3 gradients; round 3 closes when the timer fires (2.5 + 4 s), then 2 per round.
  std::map<Version, int> per_update;
  std::map<Version, double> at;
  for (std::size_t i = 0; i < r.applied.size(); ++i) {
    ++per_update[r.applied[i].update];
    at[r.applied[i].update] = r.applied_time[i];
  }
  EXPECT_EQ(per_update[1], 3);
  EXPECT_EQ(per_update[2], 3);
  EXPECT_EQ(per_update[3], 2);
  EXPECT_DOUBLE_EQ(at[3], 6.5);
  EXPECT_EQ(per_update[12], 2);
}

TEST(LostWorker, BspStopsWithAClearErrorWhenConfigured) {
  const InprocResult r = run_bsp({{"on_worker_lost", "stop"}}, {{2, 3.5, -1}});
  ASSERT_EQ(r.stop_reason, "error");  // a policy's error stop is a failed run, as in sim
  ASSERT_TRUE(r.stop);
  EXPECT_TRUE(r.stop->is_error);
  EXPECT_EQ(r.stop->reason, "worker 2 lost under bsp (policy.on_worker_lost: stop)");
  EXPECT_EQ(r.updates, 3u);
}

TEST(LostWorker, RejoinWithinTheTimeoutKeepsEveryoneInTheRound) {
  const InprocResult r = run_bsp({{"timeout", "10"}}, {{0, 2.5, 4.0}});
  ASSERT_EQ(r.stop_reason, "updates");
  EXPECT_TRUE(has_note(r, "worker 0 rejoined"));
  EXPECT_FALSE(has_note(r, "did not rejoin"));
  std::map<Version, int> per_update;
  for (const auto& a : r.applied) ++per_update[a.update];
  for (const auto& [v, n] : per_update) EXPECT_EQ(n, 3) << "update " << v;
}

TEST(LostWorker, ZeroTimeoutContinuesAtOnceAndLateRejoinCountsAgain) {
  const InprocResult r = run_bsp({{"timeout", "0"}}, {{1, 2.5, 7.2}}, 14);
  ASSERT_EQ(r.stop_reason, "updates");
  std::map<Version, int> per_update;
  for (const auto& a : r.applied) ++per_update[a.update];
  EXPECT_EQ(per_update[3], 2);
  EXPECT_EQ(per_update[14], 3);  // back in the rounds after rejoining
}

TEST(LostWorker, AllWorkersLostStopsWithAnError) {
  const InprocResult r = run_bsp({{"timeout", "1"}}, {{0, 1.5, -1}, {1, 1.5, -1}, {2, 1.5, -1}});
  ASSERT_EQ(r.stop_reason, "error");  // a policy's error stop is a failed run, as in sim
  ASSERT_TRUE(r.stop);
  EXPECT_TRUE(r.stop->is_error);
  EXPECT_NE(r.stop->reason.find("all 3 workers lost"), std::string::npos);
}

TEST(LostWorker, SspExcludesTheLostWorkerFromTheClockBound) {
  InprocOptions o;
  o.policy = test::policy_spec("ssp", {{"staleness", "1"}, {"timeout", "2"}});
  o.max_updates = 40;
  o.failures = {{0, 1.5, -1}};
  auto inst = make_policy(o.policy, 3);
  InprocDriver d(o, {}, test::timing_setups(3, inst.worker));
  const InprocResult r = d.run();
  ASSERT_EQ(r.stop_reason, "updates");
  EXPECT_GE(r.clocks[1], 15u);
}

}  // namespace
}  // namespace synclab
