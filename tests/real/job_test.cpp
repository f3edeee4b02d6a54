// Whole real jobs over loopback through `synclab launch`, asserting claims that hold however
// fast the machine is: every registered policy trains to a target accuracy (the stop reason
// says it got there), and the run's own recorded event order, replayed in the in-process
// driver, reproduces its final parameters bit for bit.
#include <gtest/gtest.h>

#include <ostream>
#include <set>

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
  const char* name;  ///< test name (identifier characters only)
  const char* yaml;  ///< the policy section
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.yaml; }

/// Softmax on 6000 Fashion-MNIST samples until `accuracy` on 1000 test samples (evaluated
/// every 25 updates) or `limit` updates, with the PS recording its event order.
std::string target_config(const std::string& policy_yaml, double accuracy, int limit, const std::string& extra = "") {
  return "model: softmax\n"
         "data: {dataset: fashion-mnist, batch: 50, train_limit: 6000, test_limit: 1000}\n"
         "train: {optimizer: {name: sgd, lr: 0.1}, stop: {accuracy: " + std::to_string(accuracy) + ", updates: " + std::to_string(limit) +
         "}, eval_every: 25, seed: 7}\n"
         "policy: " + policy_yaml + "\n"
         "cluster: {workers: 3, servers: 1}\n"
         "worker: {device: cpu}\n"
         "real: {timeout: 10s, heartbeat: 200ms, frame_timeout: 5s, trace: on}\n" + extra;
}

// The in-process driver for a real job's config, with the workers' own setup code.
struct InprocForConfig {
  std::vector<std::unique_ptr<WorkerResources>> res;  // owns what the setups point into
  std::unique_ptr<InprocDriver> driver;
};

InprocForConfig inproc_for(const RunConfig& config) {
  InprocForConfig out;
  std::vector<WorkerSetup> setups;
  for (int w = 0; w < config.cluster.workers; ++w) {
    out.res.push_back(make_worker_resources(config, w, "cpu"));
    setups.push_back(out.res.back()->setup);
  }
  InprocOptions o;
  o.policy = config.policy;
  o.optimizer = config.train.optimizer;
  o.shards = config.cluster.servers;
  o.max_updates = config.train.stop_updates;
  std::vector<float> initial(out.res[0]->spec.num_params());
  init_params(out.res[0]->spec, initial.data(), config.train.seed);
  out.driver = std::make_unique<InprocDriver>(o, initial, setups);
  return out;
}

// Replays a finished real run in the in-process driver, with the event order each PS shard
// recorded.
InprocResult replay_run(const RunConfig& config, const std::filesystem::path& run_dir) {
  auto inproc = inproc_for(config);
  std::vector<std::vector<TraceEvent>> traces;
  for (int s = 0; s < config.cluster.servers; ++s)
    traces.push_back(read_server_trace(run_dir / "trace" / ("ps" + std::to_string(s) + ".csv")));
  return inproc.driver->replay(traces);
}

// updates.csv as "update,worker,staleness" per row (time and loss left out).
std::vector<std::string> applied_rows(const std::filesystem::path& file) {
  std::vector<std::string> out;
  for (const auto& r : csv_rows(file)) {
    const auto a = r.find(',');
    const auto d = r.rfind(',');
    out.push_back(r.substr(a + 1, d - a - 1));
  }
  return out;
}

std::vector<std::string> applied_rows(const InprocResult& r) {
  std::vector<std::string> out;
  for (const auto& a : r.applied) out.push_back(std::to_string(a.update) + "," + std::to_string(a.worker) + "," + std::to_string(a.staleness));
  return out;
}

class LaunchPolicy : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(LaunchPolicy, ReachesTargetAccuracyAndReplaysBitForBit) {
  const auto& pc = GetParam();
  const auto dir = temp_dir(std::string("policy-") + pc.name);
  const double target = 0.7;
  const int limit = 4000;
  const auto cfg = write_text(dir / "job.yaml", target_config(pc.yaml, target, limit));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "240"}, dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 270), "exit 0") << read_text(dir / "launch.log") << read_text(dir / "run/logs/ps0.log");
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["backend"], "real");
  // The target, not the update limit, ended the run, and an evaluation shows it.
  EXPECT_EQ(s["stop_reason"], "accuracy") << pc.yaml << ": " << s["updates"] << " updates, accuracy " << s["final_test_accuracy"];
  double best = 0;
  for (const auto& row : csv_rows(dir / "run/evals.csv")) best = std::max(best, std::stod(row.substr(row.rfind(',') + 1)));
  EXPECT_GE(best, target);
  EXPECT_LT(s["updates"].get<int>(), limit);
  ASSERT_EQ(s["per_worker"].size(), 3u);
  for (const auto& w : s["per_worker"]) {
    EXPECT_FALSE(w["failed"].get<bool>());  // every worker reported
    EXPECT_GT(w["compute_s"].get<double>(), 0.0);
    // Its parameters and its pushes took time to arrive; the pushes' arrival, which shard 0
    // moved out of the worker's wait, never leaves a negative wait.
    EXPECT_GT(w["communicate_s"].get<double>(), 0.0);
    EXPECT_GE(w["wait_s"].get<double>(), 0.0);
  }
  // Samples count applied gradients only (docs/run-directory.md): one batch of 50 per
  // updates.csv row, tau batches for the local-SGD family; a dropped push adds nothing.
  const auto rows = csv_rows(dir / "run/updates.csv").size();
  const auto samples = s["samples"].get<std::uint64_t>();
  if (std::string(pc.name) == "local_sgd" || std::string(pc.name) == "adacomm") {
    EXPECT_GE(samples, rows * 50) << pc.yaml;
    EXPECT_EQ(samples % 50, 0u) << pc.yaml;
  } else {
    EXPECT_EQ(samples, rows * 50) << pc.yaml;
  }
  // Replay: the same events in the same order give the same parameters and decisions.
  const RunConfig config = load_run_config(cfg.string());
  const InprocResult r = replay_run(config, dir / "run");
  EXPECT_EQ(r.updates, s["updates"].get<std::uint64_t>());
  EXPECT_EQ(sha256_hex(r.params), s["final_params_sha256"].get<std::string>()) << pc.yaml;
  EXPECT_EQ(applied_rows(r), applied_rows(dir / "run/updates.csv")) << pc.yaml;
  std::filesystem::remove_all(dir);
}

// Every registered policy, each with the parameters that make it differ from plain async or
// bsp (the list is checked against the registry below).
const PolicyCase kPolicies[] = {
    {"bsp", "{name: bsp}"},
    {"async", "{name: async}"},
    {"ssp", "{name: ssp, staleness: 2}"},
    {"backup", "{name: backup, backup: 1}"},
    {"ksync", "{name: ksync, k: 2}"},
    {"kbatch_sync", "{name: kbatch-sync, k: 2}"},
    {"kasync", "{name: kasync, k: 2}"},
    {"kbatch_async", "{name: kbatch-async, k: 2}"},
    {"local_sgd", "{name: local-sgd, tau: 2}"},
    {"adacomm", "{name: adacomm, tau: 2, interval: 5}"},
    {"staleness_lr", "{name: staleness-lr}"},
    {"dc_asgd", "{name: dc-asgd}"},
};

INSTANTIATE_TEST_SUITE_P(Policies, LaunchPolicy, ::testing::ValuesIn(kPolicies),
                         [](const ::testing::TestParamInfo<PolicyCase>& p) { return std::string(p.param.name); });

TEST(LaunchPolicyList, CoversEveryRegisteredPolicy) {
  std::set<std::string> tested;
  for (const auto& c : kPolicies) tested.insert(YAML::Load(c.yaml)["name"].as<std::string>());
  for (const auto& p : policy_list()) EXPECT_TRUE(tested.count(p.name)) << "policy " << p.name << " has no end-to-end test";
  EXPECT_EQ(tested.size(), policy_list().size());
}

// Several shards process events in their own orders (async shards may answer one pull at
// different versions); replaying each shard's order still reproduces the run exactly.
TEST(LaunchReplay, AsyncOverTwoShardsReplaysBitForBit) {
  const auto dir = temp_dir("replay-shards");
  const auto cfg = write_text(dir / "job.yaml", target_config("{name: async}", 0.0, 120));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "120", "--set", "cluster.servers=2"},
                   dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 150), "exit 0") << read_text(dir / "launch.log");
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "updates");
  const RunConfig config = load_run_config(cfg.string(), {"cluster.servers=2"});
  const InprocResult r = replay_run(config, dir / "run");
  EXPECT_EQ(sha256_hex(r.params), s["final_params_sha256"].get<std::string>());
  std::filesystem::remove_all(dir);
}

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
  EXPECT_NE(s["error"].get<std::string>().find("diverged: the training loss"), std::string::npos) << s.dump();
  EXPECT_NE(read_text(dir / "launch.log").find("diverged"), std::string::npos) << read_text(dir / "launch.log");
  std::filesystem::remove_all(dir);
}

// Replays the job in the in-process driver with the workers' own setup code.
std::string inproc_sha(const RunConfig& config) {
  auto inproc = inproc_for(config);
  const InprocResult r = inproc.driver->run();
  EXPECT_EQ(r.updates, config.train.stop_updates);
  return sha256_hex(r.params);
}

TEST(LaunchBsp, BitIdenticalToInProcessDriver) {
  for (int shards : {1, 2}) {
    const auto dir = temp_dir("bsp-identical");
    // Evaluations every 10 updates: with two shards each is a gather by shard 0, so several
    // chances to see one complete within the 40 updates.
    std::string yaml = small_config("{name: bsp}", 2, 40) + "worker: {device: cpu}\n";
    yaml.replace(yaml.find("eval_every: 100"), 15, "eval_every: 10");
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
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", 2, 30) + "worker: {device: cpu}\n");
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "real").string(), "--timeout", "60"}, dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 90), "exit 0") << read_text(dir / "launch.log");
  auto sim = spawn("sim", {"sim", cfg.string(), "--out", (dir / "sim").string(), "--set", "sim.mode=full"}, dir / "sim.log");
  const std::string st = wait_for(*sim, 90);
  if (st != "exit 0") GTEST_SKIP() << "synclab sim not usable here: " << read_text(dir / "sim.log");
  EXPECT_EQ(read_json(dir / "real/summary.json")["final_params_sha256"], read_json(dir / "sim/summary.json")["final_params_sha256"]);
  std::filesystem::remove_all(dir);
}

// The same bsp config over two shards through the in-process driver, the simulator (full
// mode) and a real job: one run monitor counts for all three, so their summaries agree
// field by field. Exact: the counts, the stop, staleness and the final parameters. Within a
// tolerance: the final test figures (the same parameters scored by differently threaded
// networks: at most one test sample apart, loss within 1e-4 relative). Not compared: time_s
// and bytes_sent, which the clock and the transport decide (wall vs simulated seconds,
// frames with headers and heartbeats vs payloads).
TEST(DriverAgreement, BspOverTwoShardsSummariesAgreeFieldByField) {
  const auto dir = temp_dir("agreement");
  const int workers = 2, updates = 30, batch = 50, test_samples = 1000;
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", workers, updates) + "worker: {device: cpu}\n");
  const std::vector<std::string> sets = {"--set", "cluster.servers=2"};
  std::vector<std::string> real_args = {"launch", cfg.string(), "--out", (dir / "real").string(), "--timeout", "60"};
  real_args.insert(real_args.end(), sets.begin(), sets.end());
  auto job = spawn("launch", real_args, dir / "launch.log");
  ASSERT_EQ(wait_for(*job, 90), "exit 0") << read_text(dir / "launch.log");
  std::vector<std::string> sim_args = {"sim", cfg.string(), "--out", (dir / "sim").string(), "--set", "sim.mode=full"};
  sim_args.insert(sim_args.end(), sets.begin(), sets.end());
  auto sim_job = spawn("sim", sim_args, dir / "sim.log");
  ASSERT_EQ(wait_for(*sim_job, 90), "exit 0") << read_text(dir / "sim.log");
  const RunConfig config = load_run_config(cfg.string(), {"cluster.servers=2"});
  auto inproc = inproc_for(config);
  const InprocResult r = inproc.driver->run();

  const auto real = read_json(dir / "real/summary.json");
  const auto sim = read_json(dir / "sim/summary.json");
  const RunSummary& in = r.summary;
  const std::uint64_t samples = static_cast<std::uint64_t>(updates) * workers * batch;  // bsp: one gradient per worker per update
  for (const auto* s : {&real, &sim}) {
    const std::string who = (*s)["backend"].get<std::string>();
    EXPECT_EQ((*s)["workers"].get<int>(), workers) << who;
    EXPECT_EQ((*s)["policy"], "bsp") << who;
    EXPECT_EQ((*s)["updates"].get<std::uint64_t>(), in.updates) << who;
    EXPECT_EQ((*s)["samples"].get<std::uint64_t>(), in.samples) << who;
    EXPECT_EQ((*s)["stop_reason"].get<std::string>(), in.stop_reason) << who;
    EXPECT_EQ((*s)["mean_staleness"].get<double>(), in.mean_staleness) << who;
    EXPECT_EQ((*s)["max_staleness"].get<std::int64_t>(), in.max_staleness) << who;
    EXPECT_EQ((*s)["dropped_pushes"].get<std::uint64_t>(), in.dropped_pushes) << who;
    EXPECT_EQ((*s)["final_params_sha256"].get<std::string>(), sha256_hex(r.params)) << who;
    EXPECT_GT((*s)["time_s"].get<double>(), 0.0) << who;
  }
  EXPECT_EQ(in.updates, static_cast<std::uint64_t>(updates));
  EXPECT_EQ(in.samples, samples);
  EXPECT_EQ(in.stop_reason, "updates");
  EXPECT_EQ(real["shards"].get<int>(), 2);
  ASSERT_EQ(real["per_worker"].size(), static_cast<std::size_t>(workers));
  for (const auto& w : real["per_worker"]) EXPECT_FALSE(w["failed"].get<bool>()) << w.dump();
  EXPECT_NEAR(real["final_test_accuracy"].get<double>(), sim["final_test_accuracy"].get<double>(), 1.0 / test_samples + 1e-12);
  EXPECT_NEAR(real["final_test_loss"].get<double>(), sim["final_test_loss"].get<double>(), 1e-4 * std::abs(sim["final_test_loss"].get<double>()));
  // The updates.csv rows (update, worker, staleness) are the same decisions in the same order.
  EXPECT_EQ(applied_rows(dir / "real/updates.csv"), applied_rows(dir / "sim/updates.csv"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
