// InprocDriver::replay: a run's own event order, fed back, reproduces it bit for bit for
// every registered policy on random schedules; a trace the policy cannot reproduce, or that
// no driver can replay, is refused naming the event; trace lines parse strictly.
#include <cstring>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "fixture.hpp"

namespace synclab {
namespace {

// The shard-0 trace a real PS would have written for this in-process run: every arrival,
// loss and timer in processing order, with the version each left behind.
std::vector<TraceEvent> trace_of(const InprocResult& r) {
  std::vector<TraceEvent> t;
  Version version = 0;
  for (const auto& e : r.events) {
    switch (e.kind) {
      case InprocEvent::Kind::PullArrived:
        t.push_back(TraceEvent{TraceEvent::Kind::Pull, e.worker, e.clock, 0, 0, version});
        break;
      case InprocEvent::Kind::PushArrived:
        t.push_back(TraceEvent{TraceEvent::Kind::Push, e.worker, e.clock, e.version, 0, version});
        break;
      case InprocEvent::Kind::Lost:
        t.push_back(TraceEvent{TraceEvent::Kind::Lost, e.worker, 0, 0, 0, version});
        break;
      case InprocEvent::Kind::Timer:
        t.push_back(TraceEvent{TraceEvent::Kind::Timer, -1, 0, 0, e.timer, version});
        break;
      case InprocEvent::Kind::Applied:  // decided by the event logged just before it
        version = std::max(version, e.version);
        t.back().version = version;
        break;
      default:
        break;
    }
  }
  return t;
}

struct Replayed {
  InprocResult run, replay;
};

Replayed run_and_replay(const PolicySpec& spec, std::uint64_t seed, std::vector<InprocFailure> failures = {}) {
  const int workers = 3;
  InprocOptions o;
  o.policy = spec;
  o.optimizer.lr = 0.1;
  o.max_updates = 40;
  o.failures = std::move(failures);
  test::random_schedule(o, seed, workers);
  const WorkerPolicy wp = make_policy(spec, workers).worker;
  test::TinyProblem first(workers, 8, seed);
  Replayed out;
  out.run = InprocDriver(o, first.initial, first.setups(wp, 0.1)).run();
  test::TinyProblem again(workers, 8, seed);  // fresh samplers: the replay recomputes every step
  out.replay = InprocDriver(o, again.initial, again.setups(wp, 0.1)).replay({trace_of(out.run)});
  return out;
}

TEST(Replay, EveryPolicyReproducesItsRunBitForBit) {
  for (const auto& info : policy_list()) {
    std::map<std::string, std::string> params;
    if (info.name == "ksync" || info.name == "kasync" || info.name == "kbatch-sync" || info.name == "kbatch-async") params["k"] = "2";
    if (info.name == "backup") params["backup"] = "1";
    if (info.name == "local-sgd" || info.name == "adacomm") params["tau"] = "2";
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      const auto r = run_and_replay(test::policy_spec(info.name, params), seed);
      const std::string what = info.name + " seed " + std::to_string(seed);
      ASSERT_EQ(r.run.stop_reason, "updates") << what;
      ASSERT_EQ(r.replay.updates, r.run.updates) << what;
      ASSERT_EQ(r.replay.params.size(), r.run.params.size()) << what;
      EXPECT_EQ(std::memcmp(r.replay.params.data(), r.run.params.data(), r.run.params.size() * sizeof(float)), 0) << what;
      ASSERT_EQ(r.replay.applied.size(), r.run.applied.size()) << what;
      for (std::size_t i = 0; i < r.run.applied.size(); ++i) {
        EXPECT_EQ(r.replay.applied[i].push, r.run.applied[i].push) << what << " row " << i;
        EXPECT_EQ(r.replay.applied[i].staleness, r.run.applied[i].staleness) << what << " row " << i;
      }
      EXPECT_EQ(r.replay.dropped.size(), r.run.dropped.size()) << what;
    }
  }
}

TEST(Replay, CancelledStepsAndLostWorkersAreReplayed) {
  // ksync cancels stragglers (their step is computed and abandoned); bsp with a timeout
  // continues without a worker lost mid-run.
  const auto k = run_and_replay(test::policy_spec("ksync", {{"k", "2"}}), 9);
  EXPECT_GT(test::count_events(k.run, InprocEvent::Kind::Cancelled), 0u);
  EXPECT_EQ(std::memcmp(k.replay.params.data(), k.run.params.data(), k.run.params.size() * sizeof(float)), 0);
  const auto b = run_and_replay(test::policy_spec("bsp", {{"timeout", "3"}}), 2, {{1, 5.0, -1}});
  EXPECT_EQ(test::count_events(b.run, InprocEvent::Kind::Lost), 1u);
  EXPECT_EQ(b.replay.updates, b.run.updates);
  EXPECT_EQ(std::memcmp(b.replay.params.data(), b.run.params.data(), b.run.params.size() * sizeof(float)), 0);
}

std::string replay_error(const PolicySpec& spec, std::vector<TraceEvent> trace) {
  test::TinyProblem p(2, 8, 1);
  InprocOptions o;
  o.policy = spec;
  try {
    InprocDriver(o, p.initial, p.setups(make_policy(spec, 2).worker, 0.1)).replay({trace});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Replay, RefusesWhatThePolicyDoesNotReproduce) {
  using K = TraceEvent::Kind;
  const auto async = test::policy_spec("async");
  const std::vector<TraceEvent> good = {{K::Pull, 0, 0, 0, 0, 0}, {K::Pull, 1, 0, 0, 0, 0}, {K::Push, 1, 0, 0, 0, 1}, {K::Push, 0, 0, 0, 0, 2}};
  EXPECT_EQ(replay_error(async, good), "");
  auto wrong_version = good;
  wrong_version[3].version = 3;
  EXPECT_NE(replay_error(async, wrong_version).find("event 4 (push,0,0,0,0,3): the policy reached version 2, the recorded run 3"),
            std::string::npos)
      << replay_error(async, wrong_version);
  auto unsent = good;
  unsent[2].clock = 5;  // worker 1 never computed a step at clock 5
  EXPECT_NE(replay_error(async, unsent).find("cannot happen"), std::string::npos) << replay_error(async, unsent);
  auto resumed = good;
  resumed.insert(resumed.begin(), TraceEvent{K::Resumed, -1, 0, 0, 0, 7});
  EXPECT_NE(replay_error(async, resumed).find("resumed from a checkpoint at version 7"), std::string::npos);
  auto rejoin = good;
  rejoin.push_back({K::Lost, 0, 0, 0, 0, 2});
  rejoin.push_back({K::Joined, 0, 0, 0, 0, 2});
  EXPECT_NE(replay_error(async, rejoin).find("worker 0 rejoined"), std::string::npos) << replay_error(async, rejoin);
  auto stranger = good;
  stranger[0].worker = 4;
  EXPECT_NE(replay_error(async, stranger).find("names worker 4, the run has 2"), std::string::npos) << replay_error(async, stranger);
}

// Two shards stop at their own moments: shard 0 stopped the job at version 2 and worker 0
// left, which shard 1, one push short of its stop, recorded as lost; shard 0's trace still
// lists worker 0's pull from before it left. A loss is one shard's event, not the worker's.
TEST(Replay, AWorkerLostOnOneShardStillReachesTheOthers) {
  using K = TraceEvent::Kind;
  const auto async = test::policy_spec("async");
  test::TinyProblem p(2, 8, 1);
  InprocOptions o;
  o.policy = async;
  o.shards = 2;
  const std::vector<TraceEvent> shard0 = {{K::Pull, 0, 0, 0, 0, 0}, {K::Pull, 1, 0, 0, 0, 0}, {K::Push, 0, 0, 0, 0, 1},
                                          {K::Pull, 0, 1, 0, 0, 1}, {K::Push, 1, 0, 0, 0, 2}};
  const std::vector<TraceEvent> shard1 = {{K::Pull, 0, 0, 0, 0, 0}, {K::Pull, 1, 0, 0, 0, 0}, {K::Push, 0, 0, 0, 0, 1},
                                          {K::Pull, 0, 1, 0, 0, 1}, {K::Lost, 0, 0, 0, 0, 1}, {K::Push, 1, 0, 0, 0, 2}};
  const InprocResult r = InprocDriver(o, p.initial, p.setups(make_policy(async, 2).worker, 0.1)).replay({shard0, shard1});
  EXPECT_EQ(r.updates, 2u);
  EXPECT_EQ(r.applied.size(), 2u);
}

TEST(ServerTrace, LinesRoundTripAndBadLinesNameTheField) {
  const TraceEvent e{TraceEvent::Kind::Push, 3, 17, 12, 0, 14};
  EXPECT_EQ(format_trace_event(e), "push,3,17,12,0,14");
  const TraceEvent back = parse_trace_event("push,3,17,12,0,14", "t.csv:2");
  EXPECT_EQ(back.kind, e.kind);
  EXPECT_EQ(back.worker, 3);
  EXPECT_EQ(back.clock, 17u);
  EXPECT_EQ(back.base_version, 12u);
  EXPECT_EQ(back.version, 14u);
  auto error_of = [](const std::string& line) {
    try {
      parse_trace_event(line, "t.csv:9");
    } catch (const Error& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of("push,3,x7,12,0,14"), "t.csv:9: field clock is 'x7', expected an integer");
  EXPECT_EQ(error_of("shove,3,7,12,0,14"), "t.csv:9: unknown event 'shove'");
  EXPECT_NE(error_of("push,3,7").find("3 fields, expected 6"), std::string::npos);
  EXPECT_NE(error_of("timer,-1,0,0,0,-2").find("field version"), std::string::npos);
}

}  // namespace
}  // namespace synclab
