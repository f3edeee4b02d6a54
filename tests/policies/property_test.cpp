// Property tests over many random adversarial schedules (timing mode, so they are fast):
// ssp's clock and staleness bounds, exactly-once application for the async family, backup
// dropping exactly the late gradients, and no run of any policy ever stalling.
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "fixture.hpp"

namespace synclab {
namespace {

InprocResult run_timing(const PolicySpec& spec, int workers, std::uint64_t updates, std::uint64_t seed,
                        std::vector<InprocFailure> failures = {}, bool honor_cancel = true) {
  InprocOptions o;
  o.honor_cancel = honor_cancel;
  o.policy = spec;
  o.max_updates = updates;
  o.failures = std::move(failures);
  test::random_schedule(o, seed, workers);
  auto inst = make_policy(spec, workers);
  InprocDriver d(o, {}, test::timing_setups(workers, inst.worker));
  return d.run();
}

TEST(Ssp, ClockAndStalenessBoundsHoldOnRandomSchedules) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    Rng r(seed);
    const int W = 2 + static_cast<int>(r.below(5));
    const std::uint64_t s = r.below(4);
    const InprocResult res = run_timing(test::policy_spec("ssp", {{"staleness", std::to_string(s)}}), W, 120, seed);
    ASSERT_EQ(res.stop_reason, "updates") << "seed " << seed;
    std::vector<std::uint64_t> arrived(static_cast<std::size_t>(W), 0);
    std::uint64_t replies = 0;
    for (const auto& e : res.events) {
      if (e.kind == InprocEvent::Kind::PushArrived) ++arrived[static_cast<std::size_t>(e.worker)];
      if (e.kind == InprocEvent::Kind::Replied) {
        ++replies;
        const std::uint64_t slowest = *std::min_element(arrived.begin(), arrived.end());
        // The worker starts its step number arrived[w]; it may be at most s ahead of the slowest.
        ASSERT_LE(arrived[static_cast<std::size_t>(e.worker)], slowest + s)
            << "seed " << seed << " W " << W << " s " << s << " worker " << e.worker << " t " << e.time;
      }
    }
    EXPECT_GT(replies, 100u);
    const std::int64_t bound = static_cast<std::int64_t>((W - 1) * (2 * s + 1));
    for (const auto& a : res.applied) ASSERT_LE(a.staleness, bound) << "seed " << seed;
    EXPECT_TRUE(res.dropped.empty());
  }
}

TEST(Ssp, HugeStalenessNeverBlocksAndZeroBlocksEveryStep) {
  const InprocResult loose = run_timing(test::policy_spec("ssp", {{"staleness", "1000000"}}), 4, 200, 5);
  const InprocResult async = run_timing(test::policy_spec("async"), 4, 200, 5);
  ASSERT_EQ(loose.applied.size(), async.applied.size());
  for (std::size_t i = 0; i < loose.applied.size(); ++i) {
    EXPECT_EQ(loose.applied[i].push, async.applied[i].push);
    EXPECT_EQ(loose.applied_time[i], async.applied_time[i]);
  }
  const InprocResult tight = run_timing(test::policy_spec("ssp", {{"staleness", "0"}}), 4, 200, 5);
  for (const auto& a : tight.applied) EXPECT_LE(a.staleness, 3);
}

void expect_exactly_once(const InprocResult& res, const std::string& what) {
  std::set<PushId> arrived, applied, dropped;
  for (const auto& e : res.events) {
    if (e.kind == InprocEvent::Kind::PushArrived) {
      ASSERT_TRUE(arrived.insert(e.push).second) << what;
    }
  }
  for (const auto& a : res.applied) ASSERT_TRUE(applied.insert(a.push).second) << what << ": applied twice " << a.push;
  for (const auto& d : res.dropped) ASSERT_TRUE(dropped.insert(d.push).second) << what;
  for (PushId id : applied) ASSERT_TRUE(arrived.count(id)) << what;
  for (PushId id : dropped) ASSERT_FALSE(applied.count(id)) << what;
  // Whatever arrived and is neither applied nor dropped is still waiting: at most k per policy.
  EXPECT_LE(arrived.size() - applied.size() - dropped.size(), 8u) << what;
}

TEST(AsyncFamily, EveryGradientAppliedExactlyOnce) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    const InprocResult a = run_timing(test::policy_spec("async"), 5, 150, seed);
    ASSERT_EQ(a.stop_reason, "updates");
    expect_exactly_once(a, "async seed " + std::to_string(seed));
    EXPECT_TRUE(a.dropped.empty());
    // async: one gradient per update, every arrived push applied immediately.
    EXPECT_EQ(a.applied.size(), a.updates);
    EXPECT_EQ(test::count_events(a, InprocEvent::Kind::PushArrived), a.applied.size());
    const InprocResult k = run_timing(test::policy_spec("kasync", {{"k", "3"}}), 5, 60, seed);
    ASSERT_EQ(k.stop_reason, "updates");
    expect_exactly_once(k, "kasync seed " + std::to_string(seed));
    EXPECT_EQ(k.applied.size(), 3 * k.updates);
    const InprocResult kb = run_timing(test::policy_spec("kbatch-async", {{"k", "4"}}), 3, 60, seed);
    ASSERT_EQ(kb.stop_reason, "updates");
    expect_exactly_once(kb, "kbatch-async seed " + std::to_string(seed));
    EXPECT_EQ(kb.applied.size(), 4 * kb.updates);
  }
}

TEST(AsyncFamily, AsyncAndKbatchAsyncAnswerEveryPullAtOnce) {
  for (const char* name : {"async", "kbatch-async", "dc-asgd", "staleness-lr"}) {
    const InprocResult r = run_timing(test::policy_spec(name), 4, 100, 9);
    ASSERT_EQ(r.stop_reason, "updates");
    std::map<WorkerId, double> pulled;
    std::size_t replies = 0;
    for (const auto& e : r.events) {
      if (e.kind == InprocEvent::Kind::PullArrived) pulled[e.worker] = e.time;
      if (e.kind == InprocEvent::Kind::Replied) {
        ASSERT_EQ(e.time, pulled.at(e.worker)) << name;
        ++replies;
      }
    }
    EXPECT_EQ(replies, test::count_events(r, InprocEvent::Kind::PullArrived)) << name;
  }
}

TEST(AsyncFamily, KasyncWorkersWaitOnlyForTheirOwnGradient) {
  const InprocResult k = run_timing(test::policy_spec("kasync", {{"k", "2"}}), 4, 80, 3);
  ASSERT_EQ(k.stop_reason, "updates");
  // A reply to worker w comes only when none of w's arrived pushes is still unapplied.
  std::map<PushId, WorkerId> waiting;
  for (const auto& e : k.events) {
    if (e.kind == InprocEvent::Kind::PushArrived) waiting[e.push] = e.worker;
    if (e.kind == InprocEvent::Kind::Applied) waiting.erase(e.push);
    if (e.kind == InprocEvent::Kind::Replied) {
      for (const auto& [id, w] : waiting) ASSERT_NE(w, e.worker) << "t " << e.time;
    }
  }
}

TEST(Backup, DropsExactlyTheLateGradients) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const int W = 5, b = 2, N = W - b;
    const InprocResult r = run_timing(test::policy_spec("backup", {{"backup", std::to_string(b)}}), W, 50, seed);
    ASSERT_EQ(r.stop_reason, "updates");
    expect_exactly_once(r, "backup seed " + std::to_string(seed));
    // Replay arrivals: a push is on time iff it was computed on the current version and
    // fewer than N pushes of that version arrived before it.
    std::set<PushId> expect_applied, expect_dropped;
    Version version = 0;
    int in_round = 0;
    std::map<PushId, Version> applied_version;
    for (const auto& a : r.applied) applied_version[a.push] = a.update;
    for (const auto& e : r.events) {
      if (e.kind == InprocEvent::Kind::PushArrived) {
        if (e.version == version && in_round < N) {
          expect_applied.insert(e.push);
          if (++in_round == N) {
            ++version;
            in_round = 0;
          }
        } else {
          expect_dropped.insert(e.push);
        }
      }
    }
    std::set<PushId> applied, dropped;
    for (const auto& a : r.applied) applied.insert(a.push);
    for (const auto& d : r.dropped) dropped.insert(d.push);
    EXPECT_EQ(applied, expect_applied) << "seed " << seed;
    EXPECT_EQ(dropped, expect_dropped) << "seed " << seed;
    for (const auto& a : r.applied) EXPECT_EQ(a.staleness, 0);
    EXPECT_EQ(r.applied.size(), static_cast<std::size_t>(N) * r.updates);
    EXPECT_GT(r.dropped.size(), 0u) << "seed " << seed;
  }
}

TEST(KSync, RoundsTakeTheFirstKOfTheCurrentVersion) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    const InprocResult r = run_timing(test::policy_spec("ksync", {{"k", "2"}}), 4, 40, seed);
    ASSERT_EQ(r.stop_reason, "updates");
    expect_exactly_once(r, "ksync");
    EXPECT_EQ(r.applied.size(), 2 * r.updates);
    for (const auto& a : r.applied) EXPECT_EQ(a.staleness, 0);
    EXPECT_GT(test::count_events(r, InprocEvent::Kind::Cancelled), 0u);
    // Ignoring the advice changes nothing but wasted work: late pushes arrive and are dropped.
    const InprocResult ignored = run_timing(test::policy_spec("ksync", {{"k", "2"}}), 4, 40, seed, {}, false);
    ASSERT_EQ(ignored.stop_reason, "updates");
    expect_exactly_once(ignored, "ksync ignoring cancels");
    EXPECT_EQ(test::count_events(ignored, InprocEvent::Kind::Cancelled), 0u);
    EXPECT_GT(ignored.dropped.size(), r.dropped.size());
    const InprocResult kb = run_timing(test::policy_spec("kbatch-sync", {{"k", "5"}}), 3, 40, seed);
    ASSERT_EQ(kb.stop_reason, "updates");
    expect_exactly_once(kb, "kbatch-sync");
    EXPECT_EQ(kb.applied.size(), 5 * kb.updates);
    for (const auto& a : kb.applied) EXPECT_EQ(a.staleness, 0);
    if (seed == 1) {
      // With k = 5 batches and 3 workers some worker must contribute twice to a round.
      std::map<std::pair<Version, WorkerId>, int> per;
      int most = 0;
      for (const auto& a : kb.applied) most = std::max(most, ++per[{a.update, a.worker}]);
      EXPECT_GE(most, 2);
    }
  }
}

TEST(AllPolicies, NoRunStallsAndEveryHeldPullIsAnswered) {
  for (const auto& info : policy_list()) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      const int W = 4;
      // A worker fails and comes back, another fails for good: runs must go on.
      std::vector<InprocFailure> failures = {{1, 3.0, 9.0}, {2, 5.0, -1}};
      const InprocResult r = run_timing(test::policy_spec(info.name, {{"timeout", "2"}}), W, 30, seed, failures);
      ASSERT_EQ(r.stop_reason, "updates") << info.name << " seed " << seed;
      // Every pull of a live worker eventually got a reply: at most one outstanding per worker.
      std::map<WorkerId, int> outstanding;
      for (const auto& e : r.events) {
        if (e.kind == InprocEvent::Kind::PullArrived) ++outstanding[e.worker];
        if (e.kind == InprocEvent::Kind::Replied) --outstanding[e.worker];
        if (e.kind == InprocEvent::Kind::Lost) outstanding[e.worker] = 0;
      }
      for (const auto& [w, n] : outstanding) EXPECT_LE(n, 1) << info.name << " worker " << w;
    }
  }
}

}  // namespace
}  // namespace synclab
