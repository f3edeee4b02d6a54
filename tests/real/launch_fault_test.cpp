// Faults of the real executor around the launcher and the PS's own files: every worker
// failing at start (the launch fails fast with their reason), the launcher signalled alone
// (its roles go down with it), a second job in a running job's directory, checkpoint
// writes that fail, checkpoints that are all corrupt, and a PS no worker ever reaches.
// Every wait is bounded by the configured timeouts, never by how fast this machine is.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <regex>

#include "real/checkpoint/checkpoint_store.hpp"
#include "core/run/dir_lock.hpp"
#include "tests/real/job_fixture.hpp"

namespace synclab::real {
namespace {

using namespace test;

// mlp checkpoints are about 0.4 MB; a run's text files reach this after about 2,000
// updates (the event file first), so tests under it bound their update rate, not the
// machine's speed.
constexpr rlim_t kSmallFileLimit = 150 * 1024;

std::string mlp_job(const std::string& policy, const std::string& stop, int workers, const std::string& real_extra = "",
                    const std::string& cluster_extra = "") {
  return "model: mlp\n"
         "data: {dataset: fashion-mnist, batch: 100, train_limit: 6000, test_limit: 500}\n"
         "train: {optimizer: {name: sgd, lr: 0.1}, stop: " + stop + ", eval_every: 200, seed: 3}\n"
         "policy: " + policy + "\n"
         "cluster: {workers: " + std::to_string(workers) + ", servers: 1" + cluster_extra + "}\n"
         "real: {timeout: 10s, heartbeat: 200ms, frame_timeout: 5s" + real_extra + "}\n";
}

// Direct children of a process (from /proc), e.g. the roles a launcher started.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_text(e.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    if (in >> state >> ppid && ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// True once the process is gone (or a zombie waiting for its new parent to reap it).
bool gone(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  do {
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    if (stat.empty() || (close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z')) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

// The pid a PS logs when it starts serving ("ps0: pid 1234 serving ...").
pid_t logged_ps_pid(const std::filesystem::path& log) {
  std::smatch m;
  const std::string text = read_text(log);
  static const std::regex re("ps0: pid ([0-9]+) serving");
  return std::regex_search(text, m, re) ? static_cast<pid_t>(std::stol(m[1])) : 0;
}

void set_file_limit(pid_t pid, rlim_t soft) {
  rlimit l{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &l), 0) << std::strerror(errno);
  l.rlim_cur = soft;
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &l, nullptr), 0) << std::strerror(errno);
}

// A worker device that exists nowhere fails every worker at start: the launcher must end
// the job with their reason long before the PS's own real.timeout (60 s here) runs out.
TEST(LaunchFaults, EveryWorkerFailingAtStartEndsTheJobWithTheirReason) {
  const auto dir = temp_dir("failfast");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: async}", 2, 200));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--set", "worker.device=cuda:99", "--set", "real.timeout=60s"},
                   dir / "launch.log");
  EXPECT_EQ(wait_for(*job, 50), "exit 1") << read_text(dir / "launch.log");
  const std::string log = read_text(dir / "launch.log");
  EXPECT_NE(log.find("every worker ended with an error"), std::string::npos) << log;
  EXPECT_NE(log.find("worker0 (exit 1"), std::string::npos) << log;
  EXPECT_NE(log.find("worker1 (exit 1"), std::string::npos) << log;
  EXPECT_NE(log.find("99"), std::string::npos) << "the workers' own reason names the device: " << log;
  const pid_t ps = logged_ps_pid(dir / "run/logs/ps0.log");
  ASSERT_GT(ps, 0) << read_text(dir / "run/logs/ps0.log");
  EXPECT_TRUE(gone(ps, 5));
  std::filesystem::remove_all(dir);
}

// SIGINT and SIGTERM to the launcher's pid alone (not its process group), and SIGKILL,
// which it cannot catch: its PS and workers go down with it, with a message.
void signal_launcher_alone(int sig) {
  const auto dir = temp_dir("sig" + std::to_string(sig));
  const auto cfg = write_text(dir / "job.yaml", mlp_job("{name: async}", "{updates: 0, sim_time: 120}", 2));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string()}, dir / "launch.log");
  ASSERT_TRUE(log_shows(dir / "run/logs/ps0.log", "training starts", 60)) << read_text(dir / "launch.log");
  const auto roles = children_of(job->pid());
  ASSERT_EQ(roles.size(), 3u) << "ps0 and two workers";

  // Meanwhile the run directory is taken: a second job there is refused, naming the holder.
  auto second = spawn("launch2", {"launch", cfg.string(), "--out", (dir / "run").string()}, dir / "launch2.log");
  EXPECT_EQ(wait_for(*second, 30), "exit 1");
  EXPECT_NE(read_text(dir / "launch2.log").find("in use by synclab launch (pid " + std::to_string(job->pid()) + " on "), std::string::npos)
      << read_text(dir / "launch2.log");
  EXPECT_TRUE(job->running());

  ::kill(job->pid(), sig);
  const std::string expected = sig == SIGKILL ? "killed by signal 9" : "exit " + std::to_string(128 + sig);
  EXPECT_EQ(wait_for(*job, 30), expected) << read_text(dir / "launch.log");
  for (pid_t p : roles) EXPECT_TRUE(gone(p, 15)) << "role " << p << " outlived the launcher";
  if (sig == SIGKILL) {
    EXPECT_TRUE(log_shows(dir / "run/logs/ps0.log", "(its launcher is gone)", 5)) << read_text(dir / "run/logs/ps0.log");
  } else {
    EXPECT_NE(read_text(dir / "launch.log").find("received; stopping the PS shard(s) and workers"), std::string::npos) << read_text(dir / "launch.log");
  }
  // The lock went with the launcher.
  EXPECT_NO_THROW(DirLock(dir / "run", "test"));
  std::filesystem::remove_all(dir);
}

TEST(LaunchFaults, SigintToTheLauncherAloneStopsItsRoles) { signal_launcher_alone(SIGINT); }
TEST(LaunchFaults, SigtermToTheLauncherAloneStopsItsRoles) { signal_launcher_alone(SIGTERM); }
TEST(LaunchFaults, SigkillOfTheLauncherTakesItsRolesDown) { signal_launcher_alone(SIGKILL); }

// A sweep of real runs interrupted (SIGINT to the sweep's pid alone) stops its `launch`
// child, and that one its roles.
TEST(LaunchFaults, SigintToASweepOfRealRunsStopsTheirRoles) {
  const auto dir = temp_dir("sweepsig");
  write_text(dir / "job.yaml", mlp_job("{name: async}", "{updates: 0, sim_time: 120}", 2));
  const auto spec = write_text(dir / "sweep.yaml", "name: real\nbackend: launch\nbase: job.yaml\nseeds: [1]\n");
  auto sweep = spawn("sweep", {"sweep", spec.string(), "--out", (dir / "sweep").string()}, dir / "sweep.log");
  // The one run's directory is named by the sweep; find its PS log.
  std::filesystem::path ps_log;
  for (int i = 0; i < 600 && ps_log.empty(); ++i) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir / "sweep", ec))
      if (std::filesystem::exists(e.path() / "logs/ps0.log")) ps_log = e.path() / "logs/ps0.log";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(ps_log.empty()) << read_text(dir / "sweep.log");
  ASSERT_TRUE(log_shows(ps_log, "training starts", 60)) << read_text(ps_log);
  const auto launchers = children_of(sweep->pid());
  ASSERT_EQ(launchers.size(), 1u);
  const auto roles = children_of(launchers[0]);
  ASSERT_EQ(roles.size(), 3u);
  ::kill(sweep->pid(), SIGINT);
  EXPECT_NE(wait_for(*sweep, 30), "timeout") << read_text(dir / "sweep.log");
  EXPECT_NE(read_text(dir / "sweep.log").find("interrupted"), std::string::npos) << read_text(dir / "sweep.log");
  EXPECT_TRUE(gone(launchers[0], 5));
  for (pid_t p : roles) EXPECT_TRUE(gone(p, 15)) << "role " << p << " outlived the sweep";
  std::filesystem::remove_all(dir);
}

// Once the job's PS serves, puts it under the small file-size limit ("disk full"); its pid,
// or 0 when it never served.
pid_t limit_ps_files_once_serving(const std::filesystem::path& ps_log) {
  if (!log_shows(ps_log, "serving range", 60)) return 0;
  const pid_t ps = logged_ps_pid(ps_log);
  if (ps > 0) set_file_limit(ps, kSmallFileLimit);
  return ps;
}

// A checkpoint that cannot be written (here: a file-size limit, as on a full disk) is
// logged and tried again at the next checkpoint point; the pushing worker stays, and the
// job stops exactly at its stop condition with a summary.
TEST(CheckpointFaults, FailedCheckpointWriteIsRetriedWithoutDroppingAWorker) {
  const auto dir = temp_dir("ckptfail");
  const auto cfg = write_text(dir / "job.yaml", mlp_job("{name: bsp}", "{updates: 600}", 2, ", checkpoint_every: 100"));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "120"}, dir / "launch.log");
  const auto ps_log = dir / "run/logs/ps0.log";
  const pid_t ps = limit_ps_files_once_serving(ps_log);
  ASSERT_GT(ps, 0) << read_text(dir / "launch.log");
  ASSERT_TRUE(log_shows(ps_log, "checkpoint at version 100 failed (1 in a row)", 60)) << read_text(ps_log);
  set_file_limit(ps, RLIM_INFINITY);  // space again
  EXPECT_EQ(wait_for(*job, 120), "exit 0") << read_text(dir / "launch.log") << read_text(ps_log);
  const std::string log = read_text(ps_log);
  EXPECT_NE(log.find("File too large"), std::string::npos) << "the system's reason is logged: " << log;
  EXPECT_NE(log.find("/shard-0-000000000100.ckpt: cannot write"), std::string::npos) << "the file is named: " << log;
  EXPECT_EQ(log.find("lost"), std::string::npos) << "no worker was dropped: " << log;
  EXPECT_EQ(log.find("closing connection"), std::string::npos) << log;
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "updates");
  EXPECT_EQ(s["updates"].get<int>(), 600);
  const auto files = CheckpointStore(dir / "run/checkpoints", 0).files();
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.front().filename(), "shard-0-000000000600.ckpt");
  for (const auto& f : files) EXPECT_EQ(CheckpointStore::check(f), "") << f;
  std::filesystem::remove_all(dir);
}

// Checkpoints on a timer that keep failing end the job with that error after three in a
// row, and the run directory still gets its summary saying so. The run is unbounded, so each
// step sleeps 5 ms on average (a straggler draw): about 400 updates a second at most on any
// machine, far from the update rows that would fill the limit before three checkpoints fail
// (a failed data file ends a run without a summary, by design: tests/core_run).
TEST(CheckpointFaults, CheckpointsThatKeepFailingEndTheJobWithASummary) {
  const auto dir = temp_dir("ckptfull");
  const auto cfg = write_text(dir / "job.yaml", mlp_job("{name: async}", "{updates: 1000000}", 2, ", checkpoint_interval: 300ms",
                                                        ", straggler: {dist: exponential, mean: 5ms}"));
  auto job = spawn("launch", {"launch", cfg.string(), "--out", (dir / "run").string(), "--timeout", "120"}, dir / "launch.log");
  const auto ps_log = dir / "run/logs/ps0.log";
  const pid_t ps = limit_ps_files_once_serving(ps_log);
  ASSERT_GT(ps, 0) << read_text(dir / "launch.log");
  EXPECT_EQ(wait_for(*job, 120), "exit 1") << read_text(dir / "launch.log") << read_text(ps_log);
  EXPECT_NE(read_text(dir / "launch.log").find("ps0 failed (exit 3"), std::string::npos) << read_text(dir / "launch.log");
  const std::string log = read_text(ps_log);
  EXPECT_NE(log.find("failed (3 in a row)"), std::string::npos) << log;
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["stop_reason"], "error") << s.dump();
  EXPECT_NE(s["error"].get<std::string>().find("3 checkpoints in a row failed"), std::string::npos) << s.dump();
  EXPECT_NE(s["error"].get<std::string>().find("File too large"), std::string::npos) << s.dump();
  EXPECT_LT(s["updates"].get<int>(), 1500) << "the straggler draw no longer bounds the update rate";
  std::filesystem::remove_all(dir);
}

// Every checkpoint corrupt: the PS refuses to begin again at version 0, naming the files;
// with --fresh it starts at 0 and sets them aside. A PS no worker reaches fails after
// real.timeout (30 s at least for the first one) with a summary instead of waiting for ever.
TEST(CheckpointFaults, AllCorruptCheckpointsAreRefusedUnlessFresh) {
  const auto dir = temp_dir("corrupt");
  const auto cfg = write_text(dir / "job.yaml", mlp_job("{name: async}", "{updates: 500}", 2, ", checkpoint_every: 100"));
  std::filesystem::create_directories(dir / "run/checkpoints");
  write_text(dir / "run/checkpoints/shard-0-000000001600.ckpt", "SYNCKPT1 torn in half");
  write_text(dir / "run/checkpoints/shard-0-000000001400.ckpt", "garbage");
  const std::vector<std::string> args = {"ps", cfg.string(), "--out", (dir / "run").string(), "--bind", "127.0.0.1", "--port", "0",
                                         "--port-file", (dir / "port").string(), "--set", "real.timeout=2s"};
  auto ps = spawn("ps", args, dir / "ps.log");
  EXPECT_EQ(wait_for(*ps, 30), "exit 1");
  const std::string log = read_text(dir / "ps.log");
  EXPECT_NE(log.find("no valid checkpoint"), std::string::npos) << log;
  EXPECT_NE(log.find("shard-0-000000001600.ckpt"), std::string::npos) << log;
  EXPECT_NE(log.find("shard-0-000000001400.ckpt"), std::string::npos) << log;
  EXPECT_NE(log.find("--fresh"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(dir / "run/summary.json"));

  auto fresh_args = args;
  fresh_args.push_back("--fresh");
  auto again = spawn("ps", fresh_args, dir / "ps-fresh.log");
  // No worker comes: after real.timeout (at least 30 s for the first worker) the PS gives up
  // with a reason and a summary.
  EXPECT_EQ(wait_for(*again, 90), "exit 3") << read_text(dir / "ps-fresh.log");
  const std::string fresh_log = read_text(dir / "ps-fresh.log");
  EXPECT_NE(fresh_log.find("no worker connected within 30 s of the start"), std::string::npos) << fresh_log;
  EXPECT_TRUE(std::filesystem::exists(dir / "run/checkpoints/shard-0-000000001600.ckpt.rejected"));
  EXPECT_TRUE(std::filesystem::exists(dir / "run/checkpoints/shard-0-000000001400.ckpt.rejected"));
  EXPECT_TRUE(CheckpointStore(dir / "run/checkpoints", 0).files().empty());
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["updates"].get<int>(), 0);
  EXPECT_EQ(s["stop_reason"], "error") << s.dump();
  EXPECT_NE(s["error"].get<std::string>().find("no worker connected"), std::string::npos) << s.dump();
  std::filesystem::remove_all(dir);
}

// `launch --fresh` reaches the shards: the same corrupt directory runs to completion.
TEST(CheckpointFaults, LaunchRefusesCorruptCheckpointsAndFreshRuns) {
  const auto dir = temp_dir("launchfresh");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: async}", 2, 200));
  std::filesystem::create_directories(dir / "run/checkpoints");
  write_text(dir / "run/checkpoints/shard-0-000000000900.ckpt", "garbage");
  const std::vector<std::string> args = {"launch", cfg.string(), "--out", (dir / "run").string(), "--set", "real.checkpoint_every=50", "--timeout", "90"};
  auto job = spawn("launch", args, dir / "launch.log");
  EXPECT_EQ(wait_for(*job, 60), "exit 1");
  EXPECT_NE(read_text(dir / "launch.log").find("no valid checkpoint"), std::string::npos) << read_text(dir / "launch.log");
  auto fresh_args = args;
  fresh_args.push_back("--fresh");
  auto again = spawn("launch", fresh_args, dir / "launch-fresh.log");
  EXPECT_EQ(wait_for(*again, 90), "exit 0") << read_text(dir / "launch-fresh.log") << read_text(dir / "run/logs/ps0.log");
  EXPECT_EQ(read_json(dir / "run/summary.json")["updates"].get<int>(), 200);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
