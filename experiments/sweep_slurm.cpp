#include "experiments/sweep_slurm.hpp"

#include <fmt/format.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "core/common/shell_quote.hpp"
#include "experiments/csv.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

namespace {

void make_executable(const fs::path& file) {
  fs::permissions(file, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
}

}  // namespace

std::vector<std::string> sbatch_options(const SweepSlurm& slurm, const std::vector<std::string>& sbatch_args, bool array_task) {
  std::vector<std::string> o;
  if (!slurm.partition.empty()) o.push_back("--partition=" + slurm.partition);
  if (!slurm.time.empty()) o.push_back("--time=" + slurm.time);
  if (!slurm.account.empty()) o.push_back("--account=" + slurm.account);
  if (array_task && !slurm.gres.empty()) o.push_back("--gres=" + slurm.gres);
  o.insert(o.end(), slurm.extra.begin(), slurm.extra.end());
  for (const auto& a : sbatch_args) {
    if (a.size() < 2 || a[0] != '-' || a.find_first_of("\n\r") != std::string::npos)
      throw ConfigError("--sbatch-arg", "'" + a + "' is not an sbatch option (one line starting with -)");
    o.push_back(a);
  }
  return o;
}

fs::path emit_slurm(const SweepSpec& spec, const fs::path& out, const SlurmScriptOptions& opt) {
  if (spec.file.empty()) throw Error("--emit-slurm needs a sweep file");
  if (opt.shards < 1) throw ConfigError("--shards", "must be >= 1");
  if (opt.cpus_per_task < 1) throw ConfigError("--cpus-per-task", "must be >= 1");
  const auto array_opts = sbatch_options(spec.slurm, opt.sbatch_args, true);
  const auto merge_opts = sbatch_options(spec.slurm, opt.sbatch_args, false);
  std::error_code ec;
  fs::create_directories(out / "logs", ec);
  if (ec) throw Error(out.string() + ": cannot create: " + ec.message());
  const auto sweep = fs::absolute(spec.file).lexically_normal().string();
  const auto dir = fs::absolute(out).lexically_normal().string();
  const auto bin = fs::absolute(opt.program).lexically_normal().string();
  const auto script = out / "sweep.sbatch";
  std::string s;
  s += "#!/bin/bash\n";
  s += fmt::format("# Slurm job array for sweep '{}': task i runs shard i/{} of the runs.\n", spec.name, opt.shards);
  s += "# Submit with submit.sh beside this file (it also queues the index merge).\n";
  s += fmt::format("#SBATCH --job-name=synclab-{}\n", spec.name);
  s += fmt::format("#SBATCH --array=0-{}\n", opt.shards - 1);
  s += fmt::format("#SBATCH --cpus-per-task={}\n", opt.cpus_per_task);
  s += fmt::format("#SBATCH --output={}/logs/slurm-%A_%a.out\n", dir);
  for (const auto& o : array_opts) s += "#SBATCH " + o + "\n";
  s += "set -euo pipefail\n";
  // exec: a cancelled task's SIGTERM reaches the sweep runner, which records the run it
  // stops as failed (interrupted) in the index.
  s += fmt::format("exec {} sweep {} --out {} --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --jobs \"${{SLURM_CPUS_PER_TASK:-{}}}\"\n",
                   shell_quote(bin), shell_quote(sweep), shell_quote(dir), opt.shards, opt.cpus_per_task);
  write_file_atomic(script, s);
  make_executable(script);
  std::string merge_args;
  for (const auto& o : merge_opts) merge_args += shell_quote(o) + " ";
  const std::string merge_cmd = fmt::format("{} sweep {} --out {} --merge", shell_quote(bin), shell_quote(sweep), shell_quote(dir));
  std::string sub;
  sub += "#!/bin/bash\n";
  sub += "# Queues the sweep's job array, then one job that merges the shards into index.csv.\n";
  sub += "# Submitting again reruns only the runs without a summary.json.\n";
  sub += "set -euo pipefail\n";
  sub += fmt::format("job=$(sbatch --parsable {})\n", shell_quote(dir + "/sweep.sbatch"));
  sub += "job=${job%%;*}\n";
  sub += fmt::format("merge=$(sbatch --parsable --dependency=afterany:\"$job\" --job-name={} --output={} {}--wrap {})\n",
                     shell_quote("synclab-" + spec.name + "-merge"), shell_quote(dir + "/logs/slurm-merge-%j.out"), merge_args,
                     shell_quote(merge_cmd));
  sub += "merge=${merge%%;*}\n";
  sub += fmt::format("echo \"queued sweep {}: array job $job, merge job $merge; index: {}/index.csv\"\n", spec.name, dir);
  write_file_atomic(out / "submit.sh", sub);
  make_executable(out / "submit.sh");
  return script;
}

}  // namespace synclab::experiments
