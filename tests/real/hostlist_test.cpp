// Slurm node lists: the built-in parser against literal expectations, and against Slurm's
// own `scontrol show hostnames` where it is installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "core/common/error.hpp"
#include "real/launch/hostlist.hpp"

namespace synclab::real {
namespace {

using Hosts = std::vector<std::string>;

TEST(Hostlist, ExpandsTheFullSyntax) {
  EXPECT_EQ(parse_hostlist("L", "n[01-03,7],gpu5"), (Hosts{"n01", "n02", "n03", "n7", "gpu5"}));
  EXPECT_EQ(parse_hostlist("L", "single"), (Hosts{"single"}));
  EXPECT_EQ(parse_hostlist("L", "a,b,c"), (Hosts{"a", "b", "c"}));
  // Several bracket groups: the first varies slowest.
  EXPECT_EQ(parse_hostlist("L", "rack[1-2]-n[01-02]"), (Hosts{"rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"}));
  // Padding follows the lower bound; ranges cross a power of ten.
  EXPECT_EQ(parse_hostlist("L", "x[099-101]"), (Hosts{"x099", "x100", "x101"}));
  EXPECT_EQ(parse_hostlist("L", "n[8-11]"), (Hosts{"n8", "n9", "n10", "n11"}));
  EXPECT_EQ(parse_hostlist("L", "n[00-2],m[5]"), (Hosts{"n00", "n01", "n02", "m5"}));
  EXPECT_EQ(parse_hostlist("L", "gpu-a[1,3]-x,cpu[10-11]"), (Hosts{"gpu-a1-x", "gpu-a3-x", "cpu10", "cpu11"}));
  // Three groups in Slurm's order: the last fastest, then the first, the middle slowest.
  EXPECT_EQ(parse_hostlist("L", "c[1-2]-r[3-4]-s[05-06]"),
            (Hosts{"c1-r3-s05", "c1-r3-s06", "c2-r3-s05", "c2-r3-s06", "c1-r4-s05", "c1-r4-s06", "c2-r4-s05", "c2-r4-s06"}));
}

TEST(Hostlist, BadListsNameTheVariable) {
  for (const char* bad : {"n[1-3", "n1-3]", "n[3-1]", "n[a-b]", "n[1-]", "n[[1]]", "n[0-99999999]x[0-99]"}) {
    try {
      parse_hostlist("SLURM_STEP_NODELIST", bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("SLURM_STEP_NODELIST"), std::string::npos) << e.what();
    }
  }
}

// scontrol expands node lists without any daemon, given a configuration file to read.
TEST(Hostlist, AgreesWithScontrol) {
  const auto dir = std::filesystem::temp_directory_path() / ("synclab-hostlist-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "slurm.conf") << "ClusterName=hostlist\nSlurmctldHost=localhost\n";
  ::setenv("SLURM_CONF", (dir / "slurm.conf").c_str(), 1);
  if (!scontrol_hostnames("n[1-2]")) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "scontrol is not installed (Debian package slurm-client)";
  }
  for (const char* list : {"rack[1-2]-n[01-02]", "n[01-03,7],gpu5", "x[099-101]", "n[8-11,020]", "n[00-2]", "n[1-3]x[1-2]",
                           "a,b,c", "c[1-2]-r[3-4]-s[05-06]", "a[1-2]b[3-4]c[5-6]d[7-8]", "r[2,1]n[2,1]", "node[9-10],gpu[001-002]", "n[1,2,10-11]"}) {
    const auto slurm = scontrol_hostnames(list);
    ASSERT_TRUE(slurm) << list;
    EXPECT_EQ(parse_hostlist("L", list), *slurm) << list;
    EXPECT_EQ(expand_hostlist("L", list), *slurm) << list;
  }
  EXPECT_FALSE(scontrol_hostnames("n[3-1]")) << "scontrol accepted a reversed range";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
