// The Slurm scripts of `synclab sweep --emit-slurm`: array, merge job, sbatch pass-through.
// (Submitted to a real Slurm by tests/slurm/sweep_array_test.sh.)
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "experiments/csv.hpp"
#include "experiments/sweep_slurm.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {

ex::SweepSpec load(const fs::path& dir, const std::string& yaml) {
  std::ofstream(dir / "s.yaml") << yaml;
  return ex::load_sweep(dir / "s.yaml");
}

TEST(SweepSlurm, EmitsAnArrayAndAMergeJob) {
  synclab::testing::TempDir tmp("slurm-emit");
  const auto spec = load(tmp.path(), "grid: {cluster.workers: [1, 2, 3]}\n");
  ex::SlurmScriptOptions o;
  o.shards = 2;
  o.program = tmp.path() / "synclab";
  const auto script = ex::emit_slurm(spec, tmp.path() / "out", o);
  const auto text = ex::read_text(script);
  EXPECT_NE(text.find("#SBATCH --array=0-1"), std::string::npos) << text;
  EXPECT_NE(text.find("#SBATCH --cpus-per-task=4"), std::string::npos);
  EXPECT_NE(text.find("--shard \"${SLURM_ARRAY_TASK_ID}/2\""), std::string::npos);
  EXPECT_EQ(text.find("--partition"), std::string::npos) << "no partition unless asked for";
  const auto submit = ex::read_text(tmp.path() / "out/submit.sh");
  EXPECT_NE(submit.find("--dependency=afterany"), std::string::npos);
  EXPECT_NE(submit.find("--merge"), std::string::npos);
  EXPECT_EQ(std::system(("bash -n '" + script.string() + "'").c_str()), 0);
  EXPECT_EQ(std::system(("bash -n '" + (tmp.path() / "out/submit.sh").string() + "'").c_str()), 0);
}

TEST(SweepSlurm, PassesSbatchOptionsThrough) {
  synclab::testing::TempDir tmp("slurm-pass");
  const auto spec = load(tmp.path(),
                         "grid: {cluster.workers: [1, 2]}\n"
                         "slurm: {partition: gpu, time: '2:00:00', account: proj42, gres: 'gpu:1', extra: [--qos=short, '--mem=8G']}\n");
  ex::SlurmScriptOptions o;
  o.shards = 2;
  o.program = tmp.path() / "synclab";
  o.sbatch_args = {"--constraint=a100"};
  const auto text = ex::read_text(ex::emit_slurm(spec, tmp.path() / "out", o));
  for (const char* line : {"#SBATCH --partition=gpu\n", "#SBATCH --time=2:00:00\n", "#SBATCH --account=proj42\n", "#SBATCH --gres=gpu:1\n",
                           "#SBATCH --qos=short\n", "#SBATCH --mem=8G\n", "#SBATCH --constraint=a100\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing in\n" << text;
  // The merge job shares partition, time, account and extras, but asks for no GPU.
  const auto submit = ex::read_text(tmp.path() / "out/submit.sh");
  EXPECT_NE(submit.find("'--partition=gpu' '--time=2:00:00' '--account=proj42' '--qos=short' '--mem=8G' '--constraint=a100'"),
            std::string::npos)
      << submit;
  EXPECT_EQ(submit.find("--gres"), std::string::npos) << submit;
}

TEST(SweepSlurm, BadOptionsNameTheKey) {
  synclab::testing::TempDir tmp("slurm-bad");
  auto error_of = [&](const std::string& slurm) {
    try {
      load(tmp.path(), "grid: {cluster.workers: [1]}\nslurm: " + slurm + "\n");
    } catch (const synclab::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of("{time: 'soon'}").find("slurm.time"), std::string::npos);
  EXPECT_NE(error_of("{partition: 'a b'}").find("slurm.partition"), std::string::npos);
  EXPECT_NE(error_of("{account: 'x;rm -rf'}").find("slurm.account"), std::string::npos);
  EXPECT_NE(error_of("{extra: [mem=4G]}").find("slurm.extra"), std::string::npos);
  EXPECT_NE(error_of("{queue: short}").find("slurm.queue"), std::string::npos);
  EXPECT_EQ(error_of("{time: '1-12:00:00', extra: ['--comment=a b']}"), "accepted");
  const auto spec = load(tmp.path(), "grid: {cluster.workers: [1]}\n");
  ex::SlurmScriptOptions o;
  o.program = tmp.path() / "synclab";
  o.sbatch_args = {"partition=x"};
  EXPECT_THROW(ex::emit_slurm(spec, tmp.path() / "out", o), synclab::ConfigError);
}

}  // namespace
