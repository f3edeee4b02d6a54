// ServerCore against hand-computed updates: staleness-lr and dc-asgd, model-delta
// averaging, decision plumbing, and checkpoints that resume bit for bit.
#include <sstream>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "fixture.hpp"
#include "policies/server_core.hpp"

namespace synclab {
namespace {

ServerCore make_core(const PolicySpec& spec, int workers, std::vector<float> init, const std::string& opt = "sgd", double lr = 0.1) {
  ServerCoreOptions o;
  o.range = Range{0, init.size()};
  o.optimizer.name = opt;
  o.optimizer.lr = lr;
  return ServerCore(make_policy(spec, workers).server, init, o);
}

PushInfo push(WorkerId w, std::uint64_t clock, Version base, double loss = 1.0) {
  PushInfo p;
  p.id = make_push_id(w, clock);
  p.worker = w;
  p.worker_clock = clock;
  p.base_version = base;
  p.loss = loss;
  return p;
}

TEST(ServerCore, StalenessLrDividesTheLearningRateByStaleness) {
  ServerCore core = make_core(test::policy_spec("staleness-lr"), 3, {1.0f, 2.0f});
  core.push(push(0, 0, 0), std::vector<float>{1.0f, 1.0f});  // staleness 0 -> lr 0.1
  core.push(push(1, 0, 0), std::vector<float>{1.0f, -2.0f}); // staleness 1 -> lr 0.1
  core.push(push(2, 0, 0), std::vector<float>{4.0f, 4.0f});  // staleness 2 -> lr 0.05
  auto out = core.take_outbox();
  ASSERT_EQ(out.applied.size(), 3u);
  EXPECT_EQ(out.applied[2].staleness, 2);
  EXPECT_EQ(out.applied[2].update, 3u);
  const auto p = core.params();
  EXPECT_FLOAT_EQ(p[0], 1.0f - 0.1f - 0.1f - 0.05f * 4.0f);
  EXPECT_FLOAT_EQ(p[1], 2.0f - 0.1f + 0.2f - 0.05f * 4.0f);
}

TEST(ServerCore, DcAsgdCompensatesWithTheParamsTheWorkerPulled) {
  const float lambda = 0.5f;
  ServerCore core = make_core(test::policy_spec("dc-asgd", {{"lambda", "0.5"}}), 2, {1.0f, -1.0f});
  core.pull(PullInfo{0, 0});
  core.pull(PullInfo{1, 0});
  auto out = core.take_outbox();
  ASSERT_EQ(out.replies.size(), 2u);
  EXPECT_EQ(out.replies[1].version, 0u);
  // Worker 0's gradient: no delay, so no compensation.
  core.push(push(0, 0, 0), std::vector<float>{2.0f, 1.0f});
  const float w1a = 1.0f - 0.1f * 2.0f, w1b = -1.0f - 0.1f * 1.0f;
  EXPECT_FLOAT_EQ(core.params()[0], w1a);
  EXPECT_FLOAT_EQ(core.params()[1], w1b);
  // Worker 1 computed on (1, -1); now the params are w1: g + lambda * g*g*(w1 - w_bak).
  core.push(push(1, 0, 0), std::vector<float>{1.0f, -3.0f});
  const float ca = 1.0f + lambda * 1.0f * 1.0f * (w1a - 1.0f);
  const float cb = -3.0f + lambda * 9.0f * (w1b + 1.0f);
  EXPECT_FLOAT_EQ(core.params()[0], w1a - 0.1f * ca);
  EXPECT_FLOAT_EQ(core.params()[1], w1b - 0.1f * cb);
  out = core.take_outbox();
  ASSERT_EQ(out.applied.size(), 2u);
  EXPECT_EQ(out.applied[1].staleness, 1);
}

TEST(ServerCore, SspWithDcAsgdRuleMatchesDcAsgdWithStaleness) {
  auto run = [](const PolicySpec& spec) {
    ServerCore core = make_core(spec, 2, {0.5f, 0.25f});
    core.pull(PullInfo{0, 0});
    core.pull(PullInfo{1, 0});
    core.push(push(0, 0, 0), std::vector<float>{0.3f, -0.7f});
    core.pull(PullInfo{0, 1});
    core.push(push(1, 0, 0), std::vector<float>{-0.2f, 0.9f});
    return std::vector<float>(core.params().begin(), core.params().end());
  };
  EXPECT_EQ(run(test::policy_spec("dc-asgd", {{"staleness", "2"}, {"lambda", "0.3"}})),
            run(test::policy_spec("ssp", {{"staleness", "2"}, {"rule", "dc-asgd"}, {"lambda", "0.3"}})));
}

TEST(ServerCore, LocalSgdAddsTheMeanModelDelta) {
  ServerCore core = make_core(test::policy_spec("local-sgd", {{"tau", "3"}}), 2, {1.0f, 1.0f}, "adam", 123.0);
  PushInfo a = push(1, 0, 0), b = push(0, 0, 0);
  a.kind = b.kind = PayloadKind::ModelDelta;
  core.pull(PullInfo{0, 0});
  core.pull(PullInfo{1, 0});
  (void)core.take_outbox();
  core.push(a, std::vector<float>{0.5f, -1.0f});
  core.pull(PullInfo{1, 1});
  EXPECT_TRUE(core.take_outbox().replies.empty());  // held until the round closes
  core.push(b, std::vector<float>{0.25f, 0.0f});
  core.pull(PullInfo{0, 1});
  const auto out = core.take_outbox();
  EXPECT_FLOAT_EQ(core.params()[0], 1.0f + 0.375f);
  EXPECT_FLOAT_EQ(core.params()[1], 1.0f - 0.5f);
  ASSERT_EQ(out.replies.size(), 2u);
  EXPECT_EQ(out.replies[0].version, 1u);
  EXPECT_EQ(out.applied.size(), 2u);
  EXPECT_EQ(out.applied[0].worker, 0);  // worker-id order, whatever the arrival order
}

TEST(ServerCore, LateAndDuplicatePushesAreDroppedWithAReason) {
  ServerCore core = make_core(test::policy_spec("bsp"), 2, {0.0f});
  core.push(push(0, 0, 0), std::vector<float>{1.0f});
  core.push(push(0, 1, 0), std::vector<float>{1.0f});
  auto out = core.take_outbox();
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_NE(out.dropped[0].reason.find("duplicate"), std::string::npos);
  core.push(push(1, 0, 0), std::vector<float>{1.0f});
  core.push(push(1, 1, 0), std::vector<float>{1.0f});
  out = core.take_outbox();
  ASSERT_EQ(out.dropped.size(), 1u);
  EXPECT_NE(out.dropped[0].reason.find("late"), std::string::npos);
  EXPECT_EQ(core.version(), 1u);
  EXPECT_THROW(core.push(push(1, 0, 1), std::vector<float>{1.0f, 2.0f}), Error);
  EXPECT_THROW(core.push(push(7, 0, 1), std::vector<float>{1.0f}), Error);  // no worker 7
  EXPECT_EQ(core.pending_pushes(), 0u);
  EXPECT_THROW(core.pull(PullInfo{-1, 0}), Error);
}

TEST(ServerCore, APullOvertakingItsPushWaitsForIt) {
  for (const char* name : {"bsp", "ssp", "async", "kasync"}) {
    ServerCore core = make_core(test::policy_spec(name, std::string(name) == "kasync" ? std::map<std::string, std::string>{{"k", "2"}}
                                                                                   : std::map<std::string, std::string>{}),
                                2, {0.0f});
    core.pull(PullInfo{0, 0});
    core.pull(PullInfo{1, 0});
    (void)core.take_outbox();
    core.pull(PullInfo{0, 1});  // sent after push (0, 0), which is still on its way
    EXPECT_TRUE(core.take_outbox().replies.empty()) << name;
    core.push(push(0, 0, 0), std::vector<float>{1.0f});
    core.push(push(1, 0, 0), std::vector<float>{1.0f});
    const auto out = core.take_outbox();
    ASSERT_EQ(out.replies.size(), 1u) << name;
    EXPECT_EQ(out.replies[0].worker, 0);
    EXPECT_GE(out.replies[0].version, 1u) << name;
  }
}

TEST(ServerCore, RepliesShareOneSnapshotPerVersion) {
  ServerCore core = make_core(test::policy_spec("async"), 2, {3.0f});
  core.pull(PullInfo{0, 0});
  core.pull(PullInfo{1, 0});
  auto out = core.take_outbox();
  ASSERT_EQ(out.replies.size(), 2u);
  EXPECT_EQ(out.replies[0].params.get(), out.replies[1].params.get());
  core.push(push(0, 0, 0), std::vector<float>{1.0f});
  EXPECT_FLOAT_EQ((*out.replies[0].params)[0], 3.0f);  // snapshots are immutable
}

TEST(ServerCore, CheckpointResumesBitForBit) {
  for (const char* name : {"bsp", "ssp", "kasync", "dc-asgd", "adacomm"}) {
    const auto spec = test::policy_spec(name);
    const auto kind = make_policy(spec, 3).worker.payload;
    auto feed = [&](ServerCore& core, int from, int to) {
      for (int i = from; i < to; ++i) {
        const WorkerId w = (i * 7) % 3;
        const std::uint64_t clock = static_cast<std::uint64_t>(i / 3);
        core.pull(PullInfo{w, clock});
        PushInfo p = push(w, clock, core.version() > 0 && i % 4 == 0 ? core.version() - 1 : core.version(), 1.0 / (i + 1));
        p.kind = kind;
        core.push(p, std::vector<float>{0.01f * i, -0.02f * i, 0.5f});
        (void)core.take_outbox();
      }
    };
    ServerCore straight = make_core(spec, 3, {1.0f, 2.0f, 3.0f}, "adam", 0.01);
    feed(straight, 0, 30);
    ServerCore first = make_core(spec, 3, {1.0f, 2.0f, 3.0f}, "adam", 0.01);
    feed(first, 0, 13);
    std::stringstream ckpt;
    first.save(ckpt);
    ServerCore resumed = make_core(spec, 3, {0.0f, 0.0f, 0.0f}, "adam", 0.01);
    resumed.load(ckpt);
    EXPECT_EQ(resumed.version(), first.version()) << name;
    feed(resumed, 13, 30);
    EXPECT_EQ(resumed.version(), straight.version()) << name;
    EXPECT_EQ(std::vector<float>(resumed.params().begin(), resumed.params().end()),
              std::vector<float>(straight.params().begin(), straight.params().end()))
        << name;
    // A checkpoint of another policy is refused with a clear error.
    std::stringstream again;
    first.save(again);
    ServerCore other = make_core(test::policy_spec(std::string(name) == "bsp" ? "async" : "bsp"), 3, {0, 0, 0}, "adam", 0.01);
    EXPECT_THROW(other.load(again), Error) << name;
    std::stringstream truncated(ckpt.str().substr(0, 40));
    ServerCore t = make_core(spec, 3, {0, 0, 0}, "adam", 0.01);
    EXPECT_THROW(t.load(truncated), Error);
  }
}

}  // namespace
}  // namespace synclab
