// Emulated slow and noisy real workers: the same draws as the simulator's step times, and
// only slow-downs accepted.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "core/cost/step_time.hpp"
#include "core/cost/step_emulation.hpp"

namespace {

using synclab::StepEmulation;

synclab::RunConfig config(const std::vector<std::string>& sets) {
  std::vector<std::string> o = {"model=softmax", "cluster.workers=3"};
  o.insert(o.end(), sets.begin(), sets.end());
  return synclab::load_run_config("", o);
}

TEST(StepEmulation, InactiveWithoutSpeedsOrNoise) {
  StepEmulation e(config({}), 0);
  EXPECT_FALSE(e.active());
  EXPECT_EQ(e.pad(0.25, 1, 0.0), 0.0);
}

TEST(StepEmulation, SpeedFactorStretchesTheMeasuredStep) {
  const auto c = config({"cluster.speeds=[1, 0.25, 1]"});
  StepEmulation slow(c, 1), fast(c, 0);
  EXPECT_TRUE(slow.active());
  EXPECT_FALSE(fast.active());
  EXPECT_DOUBLE_EQ(slow.slowdown(), 4.0);
  EXPECT_NEAR(slow.pad(0.1, 1, 0.0), 0.3, 1e-12);   // 0.1 s of math lasts 0.4 s in all
  EXPECT_NEAR(slow.pad(0.2, 2, 1.0), 0.6, 1e-12);   // two local steps of 0.1 s each
  EXPECT_EQ(fast.pad(0.1, 1, 0.0), 0.0);
}

TEST(StepEmulation, StragglerDrawsAreTheSimulatorsDraws) {
  const auto c = config({"cluster.straggler={dist: exponential, mean: 0.05, workers: [2]}", "train.seed=7"});
  StepEmulation noisy(c, 2), quiet(c, 0);
  EXPECT_TRUE(noisy.active());
  EXPECT_FALSE(quiet.active());
  const synclab::StepTimeModel sim(c.cluster.straggler, 7, {0.01, 0.01, 0.01});
  double total = 0;
  for (std::uint64_t step = 0; step < 200; ++step) {
    const double pad = noisy.pad(0.01, 1, 0.0);
    EXPECT_NEAR(0.01 + pad, sim.seconds(2, step, 0.0), 1e-12) << "step " << step;
    total += pad;
  }
  EXPECT_NEAR(total / 200, 0.05, 0.015);  // exponential mean 50 ms
}

TEST(StepEmulation, OnlySlowDownsCanBeEmulated) {
  try {
    StepEmulation e(config({"cluster.speeds=[1, 2, 1]"}), 0);
    FAIL() << "a speed-up was accepted";
  } catch (const synclab::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cluster.speeds"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synclab::validate_step_emulation(config({"cluster.speeds=[1, 1]"})), synclab::ConfigError);
  EXPECT_NO_THROW(synclab::validate_step_emulation(config({"cluster.speeds=[1, 0.5, 1]"})));
}

}  // namespace
