// The run monitor alone: evaluation cadence, stop reasons and their times, counting, and
// the rows it writes through a RunWriter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/run/run_monitor.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

MonitorLimits limits(std::uint64_t updates, double time = 0, double accuracy = 0, std::uint64_t eval_every = 0) {
  MonitorLimits l;
  l.stop_updates = updates;
  l.stop_time = time;
  l.stop_accuracy = accuracy;
  l.eval_every = eval_every;
  return l;
}

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(RunMonitor, EvaluatesVersionZeroThenEveryMultipleOfEvalEvery) {
  RunMonitor m(limits(0, 0, 0, 10), nullptr);
  const MonitorActions first = m.started();
  ASSERT_TRUE(first.evaluate);
  EXPECT_EQ(first.evaluate->version, 0u);
  EXPECT_EQ(first.evaluate->time, 0.0);
  std::vector<std::uint64_t> evaluated;
  for (std::uint64_t v = 1; v <= 35; ++v) {
    const MonitorActions a = m.version(static_cast<double>(v), v);
    EXPECT_FALSE(a.stop);
    if (a.evaluate) {
      EXPECT_EQ(a.evaluate->version, v);
      EXPECT_EQ(a.evaluate->time, static_cast<double>(v));
      evaluated.push_back(v);
    }
  }
  EXPECT_EQ(evaluated, (std::vector<std::uint64_t>{10, 20, 30}));
}

TEST(RunMonitor, AVersionJumpingPastAMultipleIsEvaluatedOnce) {
  RunMonitor m(limits(0, 0, 0, 10), nullptr);
  EXPECT_FALSE(m.version(1, 9).evaluate);
  const MonitorActions a = m.version(2, 21);  // shards catching up: 9 -> 21 crosses 10 and 20
  ASSERT_TRUE(a.evaluate);
  EXPECT_EQ(a.evaluate->version, 21u);
  EXPECT_FALSE(m.version(3, 25).evaluate);
  EXPECT_TRUE(m.version(4, 30).evaluate);
  // A version that does not advance (another shard behind) is no event.
  EXPECT_TRUE(m.version(5, 29).empty());
  EXPECT_EQ(m.updates(), 30u);
}

TEST(RunMonitor, AResumedRunDoesNotRepeatWhatItDecidedBefore) {
  RunMonitor m(limits(30, 0, 0, 10), nullptr);
  m.applied(1.0, AppliedGradient{20, 0, 2, 1.0, 0});  // a row re-emitted from before the checkpoint
  m.resumed(5.0, 20, 640);
  // The driver then reports the checkpoint's version: no evaluation again, no stop below the limit.
  EXPECT_TRUE(m.version(5.5, 20).empty());
  EXPECT_EQ(m.updates(), 20u);
  EXPECT_EQ(m.samples(), 640u);
  EXPECT_EQ(m.max_staleness(), 2);
  EXPECT_FALSE(m.version(6.0, 21).evaluate) << "version 20 was evaluated before the checkpoint";
  EXPECT_TRUE(m.version(7.0, 30).stop);
}

TEST(RunMonitor, ARunResumedAtItsUpdateLimitStopsAtOnce) {
  RunMonitor m(limits(30, 0, 0, 10), nullptr);
  m.resumed(5.0, 30, 960);
  EXPECT_TRUE(m.version(5.0, 30).stop) << "the checkpoint already holds the last update";
}

TEST(RunMonitor, WithoutEvaluationsNothingIsScored) {
  MonitorLimits l = limits(0, 0, 0, 1);
  l.evaluate = false;
  RunMonitor m(l, nullptr);
  EXPECT_FALSE(m.started().evaluate);
  EXPECT_FALSE(m.version(1, 1).evaluate);
  m.stop(2, "policy");
  EXPECT_FALSE(m.final_evaluation());
}

TEST(RunMonitor, StopsAtTheUpdateLimitAfterTheEvaluationDueThere) {
  RunMonitor m(limits(20, 0, 0.5, 10), nullptr);
  EXPECT_FALSE(m.version(1, 19).stop);
  const MonitorActions a = m.version(2.5, 20);
  ASSERT_TRUE(a.evaluate);
  ASSERT_TRUE(a.stop);
  EXPECT_EQ(a.stop->reason, "updates");
  EXPECT_EQ(a.stop->time, 2.5);
  // The evaluation still counts, but the first stop wins: no "accuracy" over "updates".
  EXPECT_TRUE(m.evaluated(*a.evaluate, TestResult{0.1, 0.9, 0}).empty());
  EXPECT_EQ(m.stop_state()->reason, "updates");
  EXPECT_TRUE(m.stop(3, "policy", "enough").empty());
  EXPECT_EQ(m.stop_state()->reason, "updates");
  RunSummary s;
  m.fill(s);
  EXPECT_EQ(s.stop_reason, "updates");
  EXPECT_EQ(s.time_s, 2.5);
  EXPECT_EQ(s.updates, 20u);
  EXPECT_DOUBLE_EQ(s.final_test_accuracy, 0.9);
  EXPECT_TRUE(s.error.empty());
}

TEST(RunMonitor, TheTimeLimitStopsAtTheClockOrAtAnUpdatePastIt) {
  {
    RunMonitor m(limits(0, 2.0), nullptr);
    ASSERT_TRUE(m.deadline());
    EXPECT_EQ(*m.deadline(), 2.0);
    EXPECT_TRUE(m.version(1.5, 3).empty());
    EXPECT_TRUE(m.clock(1.99).empty());
    const MonitorActions a = m.clock(2.0);  // a run without updates stops too
    ASSERT_TRUE(a.stop);
    EXPECT_EQ(a.stop->reason, "time");
    RunSummary s;
    m.fill(s);
    EXPECT_EQ(s.time_s, 2.0);
    EXPECT_EQ(s.updates, 3u);
  }
  {
    RunMonitor m(limits(0, 2.0), nullptr);
    const MonitorActions a = m.version(2.25, 4);  // a driver that checks after updates only
    ASSERT_TRUE(a.stop);
    EXPECT_EQ(a.stop->reason, "time");
    EXPECT_EQ(a.stop->time, 2.25);
  }
  RunMonitor none(limits(5), nullptr);
  EXPECT_FALSE(none.deadline());
  EXPECT_TRUE(none.clock(1e9).empty());
}

TEST(RunMonitor, StopsAtTheTargetAccuracyAtTheScoredModelsTime) {
  RunMonitor m(limits(0, 0, 0.5, 10), nullptr);
  const MonitorActions a = m.version(1.0, 10);
  ASSERT_TRUE(a.evaluate);
  EXPECT_TRUE(m.evaluated(*a.evaluate, TestResult{1.0, 0.49, 0}).empty());
  const MonitorActions b = m.version(2.0, 20);
  m.version(2.5, 21);  // the score of version 20 arrives after version 21 exists (real)
  const MonitorActions c = m.evaluated(*b.evaluate, TestResult{0.8, 0.5, 0});
  ASSERT_TRUE(c.stop);
  EXPECT_EQ(c.stop->reason, "accuracy");
  EXPECT_EQ(c.stop->time, 2.0);
  EXPECT_FALSE(c.stop->failed());
}

TEST(RunMonitor, CountsSamplesOfAppliedGradientsOnlyAndStaleness) {
  RunMonitor m(limits(0), nullptr);
  m.applied(0.1, AppliedGradient{1, 0, 0, 2.0, 32});
  m.applied(0.2, AppliedGradient{1, 1, 2, 2.0, 32});
  m.dropped(0.3, 2);
  m.applied(0.4, AppliedGradient{2, 2, 5, 1.5, 96});  // three local steps of 32
  m.dropped(0.5, 0);
  EXPECT_EQ(m.samples(), 160u);
  EXPECT_EQ(m.applied_gradients(), 3u);
  EXPECT_EQ(m.dropped_pushes(), 2u);
  EXPECT_DOUBLE_EQ(m.mean_staleness(), 7.0 / 3.0);
  EXPECT_EQ(m.max_staleness(), 5);
  m.version(0.4, 2);
  m.stop(0.6, "policy", "the policy's words");
  RunSummary s;
  m.fill(s);
  EXPECT_EQ(s.samples, 160u);
  EXPECT_EQ(s.updates, 2u);
  EXPECT_EQ(s.dropped_pushes, 2u);
  EXPECT_EQ(s.max_staleness, 5);
  EXPECT_EQ(s.stop_reason, "policy");
  EXPECT_TRUE(s.error.empty()) << "a policy's stop is no failure";
}

TEST(RunMonitor, ANonFiniteLossIsADivergedFailure) {
  RunMonitor m(limits(100), nullptr);
  const MonitorActions a = m.applied(0.5, AppliedGradient{7, 3, 0, std::numeric_limits<double>::infinity(), 10});
  ASSERT_TRUE(a.stop);
  EXPECT_EQ(a.stop->reason, "diverged");
  EXPECT_TRUE(a.stop->failed());
  EXPECT_NE(a.stop->error.find("diverged: the training loss became inf at update 7"), std::string::npos) << a.stop->error;
  RunSummary s;
  m.fill(s);
  EXPECT_EQ(s.error, a.stop->error);

  RunMonitor test_loss(limits(100, 0, 0, 1), nullptr);
  const MonitorActions e = test_loss.version(1, 1);
  const MonitorActions d = test_loss.evaluated(*e.evaluate, TestResult{std::nan(""), 0.1, 0});
  ASSERT_TRUE(d.stop);
  EXPECT_EQ(d.stop->reason, "diverged");
  EXPECT_NE(d.stop->error.find("test loss"), std::string::npos) << d.stop->error;
}

TEST(RunMonitor, RunningDryIsFailedWhenEveryWorkerIsLostElseDeadlock) {
  {
    RunMonitor m(limits(100), nullptr);
    m.worker_lost(1.0, 0);
    m.worker_lost(2.0, 1);
    const MonitorActions a = m.ran_dry(3.5, 2, "who waits");
    ASSERT_TRUE(a.stop);
    EXPECT_EQ(a.stop->reason, "failed");
    EXPECT_EQ(a.stop->time, 2.0) << "the run ended at the last crash";
    EXPECT_NE(a.stop->error.find("every worker failed"), std::string::npos);
  }
  {
    RunMonitor m(limits(100), nullptr);
    m.worker_lost(1.0, 0);
    m.worker_lost(2.0, 1);
    m.worker_joined(1);
    const MonitorActions a = m.ran_dry(3.5, 2, "worker(s) 1 wait");
    ASSERT_TRUE(a.stop);
    EXPECT_EQ(a.stop->reason, "deadlock");
    EXPECT_EQ(a.stop->time, 3.5);
    EXPECT_EQ(a.stop->error, "worker(s) 1 wait");
  }
  RunMonitor stopped(limits(1), nullptr);
  stopped.version(1, 1);
  EXPECT_TRUE(stopped.ran_dry(2, 1, "x").empty()) << "a stopped run did not run dry";
  EXPECT_EQ(stopped.stop_state()->reason, "updates");
}

fs::path temp_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("synclab-monitor-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(RunMonitor, WritesEveryRowOnceAndTheFinalEvaluationOverTheWholeTestSet) {
  const auto dir = temp_dir("rows");
  const RunConfig config = resolve_run_config(YAML::Load("model: softmax"));
  {
    RunWriter w(dir, config);
    MonitorLimits l = limits(4, 0, 0, 2);
    l.eval_samples = 50;
    RunMonitor m(l, &w);
    const MonitorActions first = m.started();
    EXPECT_EQ(first.evaluate->test_samples, 50u);
    m.evaluated(*first.evaluate, TestResult{2.0, 0.1, 50});
    MonitorActions a;
    for (std::uint64_t v = 1; v <= 4 && !m.stopped(); ++v) {
      m.applied(0.5 * static_cast<double>(v), AppliedGradient{v, 0, 0, 1.0, 10});
      a = m.version(0.5 * static_cast<double>(v), v);
      if (a.evaluate) m.evaluated(*a.evaluate, TestResult{1.0, 0.5, 50});
    }
    ASSERT_TRUE(m.stopped());
    // The last evaluation was of the final version but over 50 samples: scored again, no new row.
    const std::optional<EvalPoint> final = m.final_evaluation();
    ASSERT_TRUE(final);
    EXPECT_EQ(final->test_samples, 0u);
    EXPECT_EQ(final->version, 4u);
    EXPECT_EQ(final->time, 2.0);
    m.final_evaluated(*final, TestResult{0.9, 0.625, 1000});
    RunSummary s;
    m.fill(s);
    EXPECT_DOUBLE_EQ(s.final_test_accuracy, 0.625);
    EXPECT_EQ(s.samples, 40u);
    s.backend = "sim";
    w.finish(s);
  }
  const auto evals = lines(dir / "evals.csv");
  ASSERT_EQ(evals.size(), 4u);  // header, versions 0, 2, 4
  EXPECT_EQ(evals[1], "0,0,0,2,0.1");
  EXPECT_EQ(evals[2], "1,2,20,1,0.5");
  EXPECT_EQ(evals[3], "2,4,40,1,0.5");
  EXPECT_EQ(lines(dir / "updates.csv").size(), 5u);
  fs::remove_all(dir);
}

TEST(RunMonitor, AFinalVersionNotYetEvaluatedGetsItsRow) {
  const auto dir = temp_dir("final");
  const RunConfig config = resolve_run_config(YAML::Load("model: softmax"));
  {
    RunWriter w(dir, config);
    RunMonitor m(limits(0, 1.0, 0, 0), &w);
    m.evaluated(*m.started().evaluate, TestResult{2.0, 0.1, 0});
    m.version(0.5, 1);
    m.version(0.75, 2);
    m.clock(1.0);
    const std::optional<EvalPoint> final = m.final_evaluation();
    ASSERT_TRUE(final);
    EXPECT_EQ(final->time, 1.0);
    m.final_evaluated(*final, TestResult{1.5, 0.3, 0});
  }
  const auto evals = lines(dir / "evals.csv");
  ASSERT_EQ(evals.size(), 3u);
  EXPECT_EQ(evals[2], "1,2,0,1.5,0.3");
  fs::remove_all(dir);
}

TEST(RunMonitor, NoFinalScoringWhenTheLastEvaluationWasExactlyIt) {
  RunMonitor m(limits(2, 0, 0, 2), nullptr);
  m.evaluated(*m.started().evaluate, TestResult{2.0, 0.1, 0});
  m.version(1, 1);
  const MonitorActions a = m.version(2, 2);
  m.evaluated(*a.evaluate, TestResult{1.0, 0.4, 0});
  EXPECT_FALSE(m.final_evaluation());
}

}  // namespace
}  // namespace synclab
