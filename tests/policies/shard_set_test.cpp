// The shard set: pushes cut into shard pieces and replies joined the same way by every
// driver, and what the in-process driver counts with several shards.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/common/error.hpp"
#include "policies/shard_set.hpp"
#include "tests/policies/fixture.hpp"

namespace synclab {
namespace {

TEST(ShardSet, CutsContiguousPiecesAndPlacesThemBack) {
  const ShardSet set(10, 3);
  ASSERT_EQ(set.size(), 3);
  EXPECT_EQ(set.range(0).begin, 0u);
  EXPECT_EQ(set.range(2).end, 10u);
  std::vector<float> full(10);
  std::iota(full.begin(), full.end(), 0.0f);
  std::vector<float> back(10, -1.0f);
  std::size_t covered = 0;
  for (int s = 0; s < set.size(); ++s) {
    const auto piece = set.piece(full, s);
    EXPECT_EQ(piece.size(), set.range(s).size());
    EXPECT_EQ(piece.front(), static_cast<float>(set.range(s).begin));
    set.place(back, s, piece);
    covered += piece.size();
  }
  EXPECT_EQ(covered, 10u);
  EXPECT_EQ(back, full);
  // Timing mode: no payload, nothing to cut or place.
  EXPECT_TRUE(set.piece({}, 1).empty());
  set.place(back, 1, {});
  EXPECT_EQ(back, full);
}

TEST(ShardSet, AReplyOfTheWrongSizeNamesTheShard) {
  const ShardSet set(10, 2);
  std::vector<float> full(10), wrong(3);
  try {
    set.place(full, 1, wrong);
    FAIL() << "a 3-float reply for a 5-float range was placed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "ps1 sent 3 floats for a range of 5");
  }
  EXPECT_THROW(set.piece(wrong, 0), Error);
  EXPECT_THROW(ShardSet(10, 0), Error);
}

TEST(PullJoin, TheVersionIsTheLowestAndTheHintTheLastGiven) {
  PullJoin one;
  one.add(7, 3);
  EXPECT_EQ(one.result().version, 7u);
  EXPECT_EQ(one.result().local_steps, 3);
  EXPECT_FALSE(one.mixed_versions());

  PullJoin join;
  join.add(9, std::nullopt);
  join.add(8, 4);
  join.add(9, 2);
  join.add(10, std::nullopt);
  EXPECT_EQ(join.replies(), 4);
  EXPECT_EQ(join.result().version, 8u) << "staleness counts from the oldest range the worker holds";
  EXPECT_EQ(join.result().local_steps, 2);
  EXPECT_TRUE(join.mixed_versions());

  PullJoin same;
  same.add(5, std::nullopt);
  same.add(5, std::nullopt);
  EXPECT_FALSE(same.mixed_versions());
  EXPECT_FALSE(same.result().local_steps);
}

// The in-process driver's summary with several shards: the model's version is every
// shard's, samples are those of applied gradients, staleness that of the rows.
TEST(ShardSet, InprocCountsAppliedGradientsAcrossShards) {
  const int workers = 3;
  InprocOptions o;
  o.policy = test::policy_spec("async");
  o.shards = 3;
  o.max_updates = 60;
  test::random_schedule(o, 11, workers);
  auto inst = make_policy(o.policy, workers);
  const InprocResult r = InprocDriver(o, {}, test::timing_setups(workers, inst.worker, 64)).run();
  ASSERT_EQ(r.stop_reason, "updates");
  EXPECT_EQ(r.summary.updates, 60u);
  EXPECT_EQ(r.summary.shards, 3);
  // Every applied gradient is counted once, as batch samples (timing setups: batch 1 step each).
  std::uint64_t samples = 0;
  for (std::size_t i = 0; i < r.applied.size(); ++i) samples += static_cast<std::uint64_t>(r.applied[i].local_steps);
  EXPECT_EQ(r.summary.samples, samples * test::timing_setups(1, inst.worker, 64).front().batch);
  // Per worker: what each computed, pushed and had cancelled, dropped and applied alike.
  ASSERT_EQ(r.summary.per_worker.size(), static_cast<std::size_t>(workers));
  std::uint64_t pushes = 0, computed = 0;
  for (const auto& f : r.summary.per_worker) {
    pushes += f.pushes;
    computed += f.samples;
    EXPECT_EQ(f.pushes, r.clocks[static_cast<std::size_t>(f.worker)]);
  }
  EXPECT_GE(pushes, r.applied.size());
  EXPECT_GE(computed, r.summary.samples);
  std::int64_t max_staleness = 0;
  for (const auto& a : r.applied) max_staleness = std::max(max_staleness, a.staleness);
  EXPECT_EQ(r.summary.max_staleness, max_staleness);
}

}  // namespace
}  // namespace synclab
