// Roles from the environment and the command line: `srun synclab launch` (every rank takes
// the role of its SLURM_PROCID), a hosts list over ssh, and the TensorFlow-style flags.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/real/job_fixture.hpp"

namespace synclab::real {
namespace {

using namespace test;

TEST(Roles, SlurmRanksTakeTheirRoles) {
  const auto dir = temp_dir("slurm");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", 1, 50));
  const int port = free_port();
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int r = 0; r < 3; ++r) {
    std::map<std::string, std::string> env = {{"SLURM_PROCID", std::to_string(r)},
                                              {"SLURM_NTASKS", "3"},
                                              {"SLURM_JOB_NODELIST", "127.0.0.1"},
                                              {"SLURM_TASKS_PER_NODE", "3"}};
    ranks.push_back(spawn("rank" + std::to_string(r),
                          {"launch", cfg.string(), "--out", (dir / "run").string(), "--set", "real.port=" + std::to_string(port)},
                          dir / ("rank" + std::to_string(r) + ".log"), "c0ffee42d15ea5e5b16b00b5deadbeef", env));
  }
  for (int r = 0; r < 3; ++r)
    EXPECT_EQ(wait_for(*ranks[static_cast<std::size_t>(r)], 60), "exit 0") << read_text(dir / ("rank" + std::to_string(r) + ".log"));
  EXPECT_TRUE(log_shows(dir / "rank0.log", "Slurm rank is ps 0", 0));
  EXPECT_TRUE(log_shows(dir / "rank2.log", "Slurm rank is worker 1", 0));
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["workers"].get<int>(), 2);  // three tasks: one shard, two workers
  EXPECT_EQ(s["updates"].get<int>(), 50);
  std::filesystem::remove_all(dir);
}

// Scripts written for torchrun set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT per process.
TEST(Roles, TorchrunVariablesTakeTheirRoles) {
  const auto dir = temp_dir("torchrun");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", 1, 40));
  const std::string port = std::to_string(free_port());
  std::vector<std::unique_ptr<ChildProcess>> ranks;
  for (int r = 0; r < 3; ++r) {
    std::map<std::string, std::string> env = {
        {"RANK", std::to_string(r)}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}};
    ranks.push_back(spawn("rank" + std::to_string(r), {"launch", cfg.string(), "--out", (dir / "run").string()},
                          dir / ("rank" + std::to_string(r) + ".log"), kTestToken, env));
  }
  for (int r = 0; r < 3; ++r)
    EXPECT_EQ(wait_for(*ranks[static_cast<std::size_t>(r)], 60), "exit 0") << read_text(dir / ("rank" + std::to_string(r) + ".log"));
  EXPECT_TRUE(log_shows(dir / "rank0.log", "torchrun rank is ps 0 (PS shards at 127.0.0.1:" + port, 0));
  EXPECT_TRUE(log_shows(dir / "rank1.log", "torchrun rank is worker 0", 0));
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["workers"].get<int>(), 2);
  EXPECT_EQ(s["updates"].get<int>(), 40);
  std::filesystem::remove_all(dir);
}

// A hosts list starts every role through ssh (a stand-in that runs the command here); the
// job token reaches the roles without appearing on any command line.
TEST(Roles, HostsListStartsRolesOverSshWithoutTheTokenOnACommandLine) {
  const auto dir = temp_dir("hosts");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: bsp}", 2, 30));
  const std::string port = std::to_string(free_port());
  const std::string token = "hosts-token-5f1e0c9a7b3d2e4f6a8b1c";
  auto launch = spawn("launch",
                      {"launch", cfg.string(), "--out", (dir / "run").string(), "--set", "real.hosts=[127.0.0.1:" + port + ", 127.0.0.1, 127.0.0.1]"},
                      dir / "launch.log", token,
                      {{"SYNCLAB_SSH", std::string(SYNCLAB_TEST_DIR) + "/fake_ssh.sh"}, {"FAKE_SSH_LOG", (dir / "ssh-args.log").string()}});
  EXPECT_EQ(wait_for(*launch, 90), "exit 0") << read_text(dir / "launch.log") << read_text(dir / "run/logs/ps0.log");
  const std::string args = read_text(dir / "ssh-args.log");
  EXPECT_EQ(std::count(args.begin(), args.end(), '\n'), 3) << args;  // one ssh per role
  EXPECT_NE(args.find("127.0.0.1 IFS= read -r SYNCLAB_TOKEN"), std::string::npos) << args;
  EXPECT_EQ(args.find(token), std::string::npos) << "the token was on an ssh command line:\n" << args;
  EXPECT_TRUE(log_shows(dir / "run/logs/ps0.log", ":" + port + ", policy bsp", 0)) << "shard 0 is not on the listed port";
  const auto s = read_json(dir / "run/summary.json");
  EXPECT_EQ(s["updates"].get<int>(), 30);
  EXPECT_EQ(s["workers"].get<int>(), 2);
  std::filesystem::remove_all(dir);
}

TEST(Roles, TensorFlowStyleFlags) {
  const auto dir = temp_dir("tfflags");
  const auto cfg = write_text(dir / "job.yaml", small_config("{name: async}", 1, 40));
  const std::string ps_hosts = "127.0.0.1:" + std::to_string(free_port()), worker_hosts = "127.0.0.1:1,127.0.0.1:2";
  auto ps = spawn("ps", {"ps", cfg.string(), "--out", (dir / "run").string(), "--job_name", "ps", "--task_index", "0", "--ps_hosts", ps_hosts,
                         "--worker_hosts", worker_hosts, "--bind", "127.0.0.1"},
                  dir / "ps.log");
  std::vector<std::unique_ptr<ChildProcess>> workers;
  for (int w = 0; w < 2; ++w)
    workers.push_back(spawn("worker", {"worker", cfg.string(), "--job_name", "worker", "--task_index", std::to_string(w), "--ps_hosts", ps_hosts,
                                       "--worker_hosts", worker_hosts},
                            dir / ("worker" + std::to_string(w) + ".log")));
  EXPECT_EQ(wait_for(*ps, 60), "exit 0") << read_text(dir / "ps.log");
  for (auto& w : workers) EXPECT_EQ(wait_for(*w, 30), "exit 0");
  EXPECT_EQ(read_json(dir / "run/summary.json")["workers"].get<int>(), 2);
  // A role flag that contradicts the command is refused with one line naming the flag.
  auto wrong = spawn("wrong", {"worker", cfg.string(), "--job_name", "ps", "--ps_hosts", ps_hosts}, dir / "wrong.log");
  EXPECT_EQ(wait_for(*wrong, 30), "exit 1");
  EXPECT_TRUE(log_shows(dir / "wrong.log", "--job_name", 0));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
