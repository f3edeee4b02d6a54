// Roles by rank from an outside launcher's variables: Slurm steps and torchrun.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "real/launch/rank_role.hpp"

namespace synclab::real {
namespace {

using Env = std::map<std::string, std::string>;

TEST(RankRole, TasksPerNode) {
  EXPECT_EQ(expand_tasks_per_node("2(x3),1"), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(expand_tasks_per_node("4"), (std::vector<int>{4}));
  EXPECT_THROW(expand_tasks_per_node("2(x3"), ConfigError);
}

TEST(RankRole, SlurmBlockLayout) {
  Env env = {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "5"}, {"SLURM_JOB_NODELIST", "n[1-3]"}, {"SLURM_TASKS_PER_NODE", "2(x2),1"}};
  auto r = role_from_slurm(env, 2, 4000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->launcher, "Slurm");
  EXPECT_EQ(r->job, "ps");
  EXPECT_EQ(r->workers, 3);
  ASSERT_EQ(r->ps.size(), 2u);
  EXPECT_EQ(r->ps[0].str(), "n1:4000");
  EXPECT_EQ(r->ps[1].str(), "n1:4001");  // ranks 0 and 1 share the first node
  env["SLURM_PROCID"] = "4";
  r = role_from_slurm(env, 2, 4000);
  EXPECT_EQ(r->job, "worker");
  EXPECT_EQ(r->index, 2);
  EXPECT_FALSE(role_from_slurm({}, 1, 4000));
  env["SLURM_NTASKS"] = "2";
  EXPECT_THROW(role_from_slurm(env, 2, 4000), ConfigError);
}

TEST(RankRole, SlurmCyclicLayout) {
  const Env env = {{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_NODELIST", "n[1-2]"},
                   {"SLURM_TASKS_PER_NODE", "2(x2)"}, {"SLURM_DISTRIBUTION", "cyclic"}};
  const auto r = role_from_slurm(env, 2, 4000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ps[0].str(), "n1:4000");
  EXPECT_EQ(r->ps[1].str(), "n2:4001");  // rank 1 is dealt to the second node
  Env plane = env;
  plane["SLURM_DISTRIBUTION"] = "plane";
  EXPECT_THROW(role_from_slurm(plane, 2, 4000), ConfigError);
}

// A step inside an allocation may use only some of its nodes: the step's variables win.
TEST(RankRole, SlurmStepVariablesOverTheJobs) {
  const Env env = {{"SLURM_PROCID", "1"},
                   {"SLURM_NTASKS", "8"},
                   {"SLURM_JOB_NODELIST", "rack[1-2]-n[01-02]"},
                   {"SLURM_TASKS_PER_NODE", "2(x4)"},
                   {"SLURM_STEP_NUM_TASKS", "3"},
                   {"SLURM_STEP_NODELIST", "rack2-n[01-02]"},
                   {"SLURM_STEP_TASKS_PER_NODE", "1,2"}};
  const auto r = role_from_slurm(env, 1, 29500);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->workers, 2);
  EXPECT_EQ(r->job, "worker");
  EXPECT_EQ(r->ps[0].str(), "rack2-n01:29500");
  Env bad = env;
  bad["SLURM_STEP_TASKS_PER_NODE"] = "3";
  try {
    role_from_slurm(bad, 1, 29500);
    ADD_FAILURE() << "one count for two nodes was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SLURM_STEP_TASKS_PER_NODE"), std::string::npos) << e.what();
  }
}

TEST(RankRole, Torchrun) {
  Env env = {{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "head"}, {"MASTER_PORT", "29400"}};
  auto r = role_from_torchrun(env, 2, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->launcher, "torchrun");
  EXPECT_EQ(r->job, "ps");
  EXPECT_EQ(r->workers, 2);
  EXPECT_EQ(r->ps[1].str(), "head:29401");
  r = role_from_torchrun(env, 2, 7000);  // real.port wins over MASTER_PORT
  EXPECT_EQ(r->ps[0].str(), "head:7000");
  env["RANK"] = "3";
  r = role_from_torchrun(env, 2, 0);
  EXPECT_EQ(r->job, "worker");
  EXPECT_EQ(r->index, 1);
  EXPECT_FALSE(role_from_torchrun({{"MASTER_ADDR", "head"}}, 1, 0));
  Env no_addr = env;
  no_addr.erase("MASTER_ADDR");
  EXPECT_THROW(role_from_torchrun(no_addr, 1, 0), ConfigError);
  env["RANK"] = "4";
  EXPECT_THROW(role_from_torchrun(env, 1, 0), ConfigError);
}

// torchrun variables are per process; inside an sbatch job the Slurm task's are per node.
TEST(RankRole, TorchrunBeforeSlurm) {
  const Env env = {{"RANK", "2"}, {"WORLD_SIZE", "3"}, {"MASTER_ADDR", "head"}, {"MASTER_PORT", "29400"},
                   {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"SLURM_JOB_NODELIST", "head"}};
  const auto r = role_from_environment(env, 1, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->launcher, "torchrun");
  EXPECT_EQ(r->index, 1);
  const auto s = role_from_environment({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "vm"}}, 1, 0);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ps[0].str(), "vm:29500");
}

}  // namespace
}  // namespace synclab::real
