// Endpoint lists, Slurm node lists and role-by-rank.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "real/launch/cluster_spec.hpp"

namespace synclab::real {
namespace {

TEST(ClusterSpec, ParsesEndpoints) {
  auto e = parse_endpoints("--ps_hosts", "a:1,b.example:2222,[::1]:9");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1].host, "b.example");
  EXPECT_EQ(e[1].port, 2222);
  EXPECT_EQ(e[2].host, "::1");
  EXPECT_THROW(parse_endpoint("--ps_hosts", "nohost"), ConfigError);
  EXPECT_THROW(parse_endpoint("--ps_hosts", "h:70000"), ConfigError);
}

TEST(ClusterSpec, ExpandsSlurmNodeLists) {
  EXPECT_EQ(expand_nodelist("n[01-03,7],gpu5"), (std::vector<std::string>{"n01", "n02", "n03", "n7", "gpu5"}));
  EXPECT_EQ(expand_nodelist("single"), (std::vector<std::string>{"single"}));
  EXPECT_EQ(expand_tasks_per_node("2(x3),1"), (std::vector<int>{2, 2, 2, 1}));
}

TEST(ClusterSpec, RoleByRank) {
  std::map<std::string, std::string> env = {
      {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "5"}, {"SLURM_JOB_NODELIST", "n[1-3]"}, {"SLURM_TASKS_PER_NODE", "2(x2),1"}};
  auto r = role_from_slurm(env, 2, 4000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->job, "ps");
  EXPECT_EQ(r->workers, 3);
  ASSERT_EQ(r->ps.size(), 2u);
  EXPECT_EQ(r->ps[1].str(), "n1:4001");  // ranks 0 and 1 share the first node
  env["SLURM_PROCID"] = "4";
  r = role_from_slurm(env, 2, 4000);
  EXPECT_EQ(r->job, "worker");
  EXPECT_EQ(r->index, 2);
  EXPECT_FALSE(role_from_slurm({}, 1, 4000));
  env["SLURM_NTASKS"] = "2";
  EXPECT_THROW(role_from_slurm(env, 2, 4000), ConfigError);
}

}  // namespace
}  // namespace synclab::real
