// Faults in a running job: kill -9 of a worker under async and under bsp with a timeout
// (the job completes with the survivors), a frozen worker found by the heartbeat timeout,
// and kill -9 of the PS followed by a restart
// (it resumes from its newest checkpoint and the workers reconnect).
// Faults are injected after a progress signal (an evaluation in the PS log), and jobs stop
// at an update count, so no claim depends on how fast the machine trains.
#include <gtest/gtest.h>

#include <signal.h>

#include "tests/real/job_fixture.hpp"

namespace synclab::real {
namespace {

using namespace test;

std::string mlp_config(const std::string& policy, const std::string& stop, const std::string& real_extra = "",
                       const std::string& timeout = "10s") {
  return "model: mlp\n"
         "data: {dataset: fashion-mnist, batch: 100, train_limit: 12000, test_limit: 1000}\n"
         "train: {optimizer: {name: sgd, lr: 0.1}, stop: " + stop + ", eval_every: 200, seed: 3}\n"
         "policy: " + policy + "\n"
         "cluster: {workers: 3, servers: 1}\n"
         "real: {timeout: " + timeout + ", heartbeat: 200ms, frame_timeout: 5s" + real_extra + "}\n";
}

struct Job {
  std::filesystem::path dir, cfg;
  int port = 0;
  std::unique_ptr<ChildProcess> ps;
  std::vector<std::unique_ptr<ChildProcess>> workers;

  void start_ps(const char* log = "ps.log") {
    ps = spawn("ps", {"ps", cfg.string(), "--out", (dir / "run").string(), "--port", std::to_string(port), "--bind", "127.0.0.1",
                      "--port-file", (dir / "port").string()},
               dir / log);
  }
  void start_workers() {
    for (int w = 0; w < 3; ++w)
      workers.push_back(spawn("worker", {"worker", cfg.string(), "--ps_hosts", "127.0.0.1:" + std::to_string(port), "--task_index", std::to_string(w)},
                              dir / ("worker" + std::to_string(w) + ".log")));
  }
  // A fresh job dir with `config`, the PS and three workers started; true once workers 1
  // and 2 have joined (bounded).
  bool start_all(const std::string& name, const std::string& config) {
    dir = temp_dir(name);
    cfg = write_text(dir / "job.yaml", config);
    port = free_port();
    start_ps();
    if (wait_for_port(dir / "port", *ps) <= 0) return false;
    start_workers();
    return wait_log("ps.log", "worker 2 joined", 30) && wait_log("ps.log", "worker 1 joined", 30);
  }
  // Waits until the PS has evaluated version `v` (a progress signal, bounded).
  bool wait_version(std::uint64_t v, double seconds = 120) { return wait_log("ps.log", "version " + std::to_string(v) + " test accuracy", seconds); }
  // Waits until the PS log shows `text` (bounded).
  bool wait_log(const std::string& file, const std::string& text, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(scaled_seconds(seconds));
    while (std::chrono::steady_clock::now() < until) {
      if (read_text(dir / file).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

// Rows of updates.csv after worker w's last one (the updates made without it).
std::size_t rows_after_last_of(const std::vector<std::string>& rows, int w) {
  std::size_t after = rows.size();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::istringstream row(rows[i]);
    std::string field;
    for (int k = 0; k < 3; ++k) std::getline(row, field, ',');  // time_s,update,worker
    if (std::stoi(field) == w) after = rows.size() - i - 1;
  }
  return after;
}

void kill_worker_and_complete(const std::string& policy, bool restart) {
  // Killed once version 200 is evaluated; without a restart the survivors alone must make
  // the remaining updates.
  const int updates = 1000;
  Job j;
  // With a restart the survivors are held (SIGSTOP) until the worker is back, so the job
  // cannot end before the rejoin however fast this machine is; the peer timeout outlasts
  // the hold.
  ASSERT_TRUE(j.start_all("killworker", mlp_config(policy, "{updates: " + std::to_string(updates) + "}", "", restart ? "120s" : "10s")))
      << read_text(j.dir / "ps.log");
  ASSERT_TRUE(j.wait_version(200)) << read_text(j.dir / "ps.log");
  ASSERT_TRUE(j.ps->running()) << "job ended before the kill";
  j.workers[1]->signal(SIGKILL);
  if (restart) {
    for (int w : {0, 2}) j.workers[static_cast<std::size_t>(w)]->signal(SIGSTOP);
    // The same worker id comes back and rejoins the running job.
    EXPECT_TRUE(j.wait_log("ps.log", "worker 1 lost", 30));
    j.workers.push_back(spawn("worker", {"worker", j.cfg.string(), "--ps_hosts", "127.0.0.1:" + std::to_string(j.port), "--task_index", "1"},
                              j.dir / "worker1-again.log"));
    EXPECT_TRUE(j.wait_log("ps.log", "worker 1 rejoined", 90)) << read_text(j.dir / "ps.log");
    for (int w : {0, 2}) j.workers[static_cast<std::size_t>(w)]->signal(SIGCONT);
  }
  EXPECT_EQ(wait_for(*j.ps, 60), "exit 0") << read_text(j.dir / "ps.log");
  EXPECT_TRUE(log_shows(j.dir / "ps.log", "worker 1 lost")) << read_text(j.dir / "ps.log");
  const auto s = read_json(j.dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "updates");
  EXPECT_EQ(s["updates"].get<int>(), updates);
  EXPECT_GT(s["final_test_accuracy"].get<double>(), 0.5);
  // Updates went on after the kill: without the restart, the survivors made the rest.
  const auto rows = csv_rows(j.dir / "run/updates.csv");
  ASSERT_GE(rows.size(), static_cast<std::size_t>(updates));
  if (!restart) {
    EXPECT_GE(rows_after_last_of(rows, 1), static_cast<std::size_t>(updates / 2));
  }
  for (int w : {0, 2}) EXPECT_EQ(wait_for(*j.workers[static_cast<std::size_t>(w)], 20), "exit 0");
  if (restart) {
    EXPECT_EQ(wait_for(*j.workers.back(), 20), "exit 0") << read_text(j.dir / "worker1-again.log");
  }
  std::filesystem::remove_all(j.dir);
}

TEST(Faults, WorkerKilledUnderAsyncRejoinsAndJobCompletes) { kill_worker_and_complete("{name: async}", true); }

TEST(Faults, WorkerKilledUnderBspWithTimeoutJobCompletes) { kill_worker_and_complete("{name: bsp, timeout: 1s}", false); }

// A frozen worker (SIGSTOP: its connection stays open, it just goes silent) is found by the
// heartbeat timeout, not by a connection loss; bsp then goes on with the two others.
TEST(Faults, SilentWorkerIsDetectedByHeartbeatTimeoutUnderBsp) {
  Job j;
  ASSERT_TRUE(j.start_all("frozen", mlp_config("{name: bsp, timeout: 500ms}", "{updates: 1000}", "", "2s")))
      << read_text(j.dir / "ps.log");
  ASSERT_TRUE(j.wait_version(200)) << read_text(j.dir / "ps.log");
  ASSERT_TRUE(j.ps->running()) << "job ended before the freeze";
  j.workers[1]->signal(SIGSTOP);
  EXPECT_TRUE(j.wait_log("ps.log", "heartbeat timeout", 10)) << read_text(j.dir / "ps.log");
  EXPECT_EQ(wait_for(*j.ps, 60), "exit 0") << read_text(j.dir / "ps.log");
  j.workers[1]->signal(SIGKILL);
  const std::string log = read_text(j.dir / "ps.log");
  EXPECT_NE(log.find("worker 1 lost (nothing received for 2 s (heartbeat timeout))"), std::string::npos) << log;
  const auto s = read_json(j.dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "updates");
  EXPECT_EQ(s["updates"].get<int>(), 1000);
  // Rounds went on without worker 1 after its detection (it froze soon after version 200):
  // hundreds of rounds, two gradients each, came after its last one.
  const auto rows = csv_rows(j.dir / "run/updates.csv");
  EXPECT_GE(rows_after_last_of(rows, 1), 2u * 250);
  for (int w : {0, 2}) EXPECT_EQ(wait_for(*j.workers[static_cast<std::size_t>(w)], 20), "exit 0");
  std::filesystem::remove_all(j.dir);
}

TEST(Faults, PsKilledAndRestartedResumesFromCheckpoint) {
  Job j;
  j.dir = temp_dir("killps");
  j.cfg = write_text(j.dir / "job.yaml", mlp_config("{name: bsp}", "{updates: 1500}", ", checkpoint_every: 100"));
  j.port = free_port();
  j.start_ps();
  ASSERT_GT(wait_for_port(j.dir / "port", *j.ps), 0) << read_text(j.dir / "ps.log");
  j.start_workers();
  ASSERT_TRUE(j.wait_log("ps.log", "checkpoint shard-0-000000000200.ckpt", 60)) << read_text(j.dir / "ps.log");
  ASSERT_TRUE(j.ps->running());
  j.ps->signal(SIGKILL);
  EXPECT_EQ(wait_for(*j.ps, 10), "killed by signal 9");
  std::filesystem::remove(j.dir / "port");
  j.start_ps("ps-restarted.log");
  EXPECT_EQ(wait_for(*j.ps, 90), "exit 0") << read_text(j.dir / "ps-restarted.log");
  const std::string log = read_text(j.dir / "ps-restarted.log");
  EXPECT_NE(log.find("resumed from checkpoint"), std::string::npos) << log;
  const auto s = read_json(j.dir / "run/summary.json");
  EXPECT_EQ(s["updates"].get<int>(), 1500);
  EXPECT_GT(s["final_test_accuracy"].get<double>(), 0.6);
  // One continuous history: update numbers never go backwards and end at the stop.
  const auto rows = csv_rows(j.dir / "run/updates.csv");
  ASSERT_FALSE(rows.empty());
  long last = 0;
  for (const auto& r : rows) {
    const long u = std::stol(r.substr(r.find(',') + 1));
    EXPECT_GE(u, last);
    last = u;
  }
  EXPECT_EQ(last, 1500);
  for (auto& w : j.workers) EXPECT_EQ(wait_for(*w, 30), "exit 0");
  for (int w = 0; w < 3; ++w) {
    const std::string wl = read_text(j.dir / ("worker" + std::to_string(w) + ".log"));
    EXPECT_NE(wl.find("retrying"), std::string::npos) << wl;
  }
  std::filesystem::remove_all(j.dir);
}

TEST(Faults, LaunchRestartsAKilledPsFromItsCheckpoint) {
  const auto dir = temp_dir("launchps");
  const auto cfg = write_text(dir / "job.yaml", mlp_config("{name: bsp}", "{updates: 1500}", ", checkpoint_every: 100"));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "120"}, dir / "launch.log");
  const auto ps_log = dir / "run/logs/ps0.log";
  ASSERT_TRUE(log_shows(ps_log, "checkpoint shard-0-000000000200.ckpt", 60)) << read_text(ps_log);
  const std::string log = read_text(ps_log);
  const auto at = log.find("pid ");
  ASSERT_NE(at, std::string::npos);
  const pid_t pid = static_cast<pid_t>(std::stol(log.substr(at + 4)));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  EXPECT_EQ(wait_for(*job, 120), "exit 0") << read_text(dir / "launch.log");
  EXPECT_TRUE(log_shows(dir / "launch.log", "restarting it from its newest checkpoint", 0)) << read_text(dir / "launch.log");
  EXPECT_TRUE(log_shows(ps_log, "resumed from checkpoint", 0));
  EXPECT_EQ(read_json(dir / "run/summary.json")["updates"].get<int>(), 1500);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
