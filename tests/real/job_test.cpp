// Whole real jobs over loopback through `synclab launch`: every policy learns, and bsp over
// TCP reproduces the in-process driver bit for bit.
#include <gtest/gtest.h>

#include "core/config/run_config.hpp"
#include "core/run/run_writer.hpp"
#include "policies/inproc_driver.hpp"
#include "policies/registry.hpp"
#include "real/worker/worker_setup.hpp"
#include "tests/real/job_fixture.hpp"

namespace synclab::real {
namespace {

using namespace test;

struct PolicyCase {
  const char* name;
  const char* yaml;
  double min_accuracy;
};

class LaunchPolicy : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(LaunchPolicy, ReachesSensibleAccuracy) {
  const auto& pc = GetParam();
  const auto dir = temp_dir("policy");
  const auto cfg = write_text(dir / "job.yaml", small_config(pc.yaml, 3, 150));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "90"}, dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 120), "exit 0") << read_text(dir / "launch.log") << read_text(dir / "run/logs/ps0.log");
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["backend"], "real");
  EXPECT_GE(s["updates"].get<int>(), 150);
  EXPECT_GT(s["final_test_accuracy"].get<double>(), pc.min_accuracy) << pc.yaml;
  EXPECT_EQ(s["final_params_sha256"].get<std::string>().size(), 64u);
  ASSERT_EQ(s["per_worker"].size(), 3u);
  for (const auto& w : s["per_worker"]) {
    EXPECT_TRUE(w["reported"].get<bool>());
    EXPECT_GT(w["compute_s"].get<double>(), 0.0);
  }
  EXPECT_GE(csv_rows(dir / "run/updates.csv").size(), 150u);
  EXPECT_GE(csv_rows(dir / "run/evals.csv").size(), 2u);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Policies, LaunchPolicy,
                         ::testing::Values(PolicyCase{"bsp", "{name: bsp}", 0.6}, PolicyCase{"async", "{name: async}", 0.6},
                                           PolicyCase{"ssp", "{name: ssp, staleness: 2}", 0.6},
                                           PolicyCase{"backup", "{name: backup, backup: 1}", 0.6},
                                           PolicyCase{"ksync", "{name: ksync, k: 2}", 0.6}, PolicyCase{"kasync", "{name: kasync, k: 2}", 0.6},
                                           PolicyCase{"local_sgd", "{name: local-sgd, tau: 2}", 0.6},
                                           PolicyCase{"adacomm", "{name: adacomm, tau: 2}", 0.6},
                                           PolicyCase{"staleness_lr", "{name: staleness-lr}", 0.6},
                                           PolicyCase{"dc_asgd", "{name: dc-asgd}", 0.6}),
                         [](const ::testing::TestParamInfo<PolicyCase>& p) { return std::string(p.param.name); });

TEST(LaunchDiverged, ANonFiniteLossStopsTheJobWithAnError) {
  const auto dir = temp_dir("diverged");
  std::string text = small_config("{name: async}", 2, 200);
  text.replace(text.find("lr: 0.1"), 7, "lr: 1e300");
  const auto cfg = write_text(dir / "job.yaml", text);
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "90"}, dir / "launch.log");
  const std::string st = wait_for(*job, 120);
  EXPECT_NE(st, "exit 0");
  EXPECT_NE(st, "timeout") << read_text(dir / "launch.log");
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "diverged");
  EXPECT_LT(s["updates"].get<int>(), 200);
  EXPECT_NE(s["failure"].get<std::string>().find("diverged: the training loss"), std::string::npos) << s.dump();
  EXPECT_NE(read_text(dir / "launch.log").find("diverged"), std::string::npos) << read_text(dir / "launch.log");
  std::filesystem::remove_all(dir);
}

// Replays the job in the in-process driver with the workers' own setup code.
std::string inproc_sha(const RunConfig& config) {
  std::vector<std::unique_ptr<WorkerResources>> res;
  std::vector<WorkerSetup> setups;
  for (int w = 0; w < config.cluster.workers; ++w) {
    res.push_back(make_worker_resources(config, w, "cpu"));
    setups.push_back(res.back()->setup);
  }
  InprocOptions o;
  o.policy = config.policy;
  o.optimizer = config.train.optimizer;
  o.shards = config.cluster.servers;
  o.max_updates = config.train.stop_updates;
  std::vector<float> initial(res[0]->spec.num_params());
  init_params(res[0]->spec, initial.data(), config.train.seed);
  InprocDriver driver(o, initial, setups);
  const InprocResult r = driver.run();
  EXPECT_EQ(r.updates, config.train.stop_updates);
  return sha256_hex(r.params);
}

TEST(LaunchBsp, BitIdenticalToInProcessDriver) {
  for (int shards : {1, 2}) {
    const auto dir = temp_dir("bsp-identical");
    const std::string yaml = small_config("{name: bsp}", 2, 40) ;
    const auto cfg = write_text(dir / "job.yaml", yaml);
    const std::vector<std::string> sets = {"--set", "cluster.servers=" + std::to_string(shards)};
    std::vector<std::string> args = {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "60"};
    args.insert(args.end(), sets.begin(), sets.end());
    auto job = spawn("launch", args, dir / "launch.log");
    ASSERT_EQ(wait_for(*job, 90), "exit 0") << read_text(dir / "launch.log");
    const auto s = read_json(dir / "run/summary.json");
    const RunConfig config = load_run_config(cfg.string(), {"cluster.servers=" + std::to_string(shards)});
    EXPECT_EQ(s["final_params_sha256"].get<std::string>(), inproc_sha(config)) << "shards " << shards;
    // Shard 0 evaluates the whole model, gathering the other shards' ranges when needed.
    EXPECT_GE(csv_rows(dir / "run/evals.csv").size(), 1u) << "shards " << shards << read_text(dir / "run/logs/ps0.log");
    std::filesystem::remove_all(dir);
  }
}

TEST(LaunchBsp, BitIdenticalToSimulatorFullMode) {
  const auto dir = temp_dir("bsp-sim");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", 2, 30));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "real").string(), "--timeout", "60"}, dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 90), "exit 0") << read_text(dir / "launch.log");
  auto sim = spawn("sim", {"sim", cfg.string(), "--out", (dir / "sim").string(), "--set", "sim.mode=full"}, dir / "sim.log");
  const std::string st = wait_for(*sim, 90);
  if (st != "exit 0") GTEST_SKIP() << "synclab sim not usable here: " << read_text(dir / "sim.log");
  EXPECT_EQ(read_json(dir / "real/summary.json")["final_params_sha256"], read_json(dir / "sim/summary.json")["final_params_sha256"]);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
