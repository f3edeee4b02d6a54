#pragma once
// A sweep as a Slurm job array: `synclab sweep --emit-slurm` writes the batch script and a
// submit script that queues the array and the index merge after it.
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/sweep_spec.hpp"

namespace synclab::experiments {

/// What --emit-slurm writes besides the sweep file's `slurm:` options.
struct SlurmScriptOptions {
  int shards = 1;                         ///< array tasks; task i runs shard i/shards of the runs
  int cpus_per_task = 4;                  ///< --cpus-per-task, and the parallel runs of a task
  std::filesystem::path program;          ///< the synclab binary the tasks run
  std::vector<std::string> sbatch_args;   ///< --sbatch-arg options, after the sweep file's
};

/// The sbatch options of the array tasks (gres included) or of the merge job (without gres),
/// as command-line arguments: partition, time, account, gres, then extra and sbatch_args.
std::vector<std::string> sbatch_options(const SweepSlurm& slurm, const std::vector<std::string>& sbatch_args, bool array_task);

/// Writes out/sweep.sbatch (the job array, one `synclab sweep --shard i/n` per task) and
/// out/submit.sh (submits it, then a `--merge` job with --dependency=afterany on it, and
/// prints both job ids). Submitting again reruns only what has no summary.json. Returns
/// the path of the sbatch script.
std::filesystem::path emit_slurm(const SweepSpec& spec, const std::filesystem::path& out, const SlurmScriptOptions& options);

}  // namespace synclab::experiments
