#pragma once
// Runs an expanded sweep as child processes (`synclab sim|launch|train CONFIG --out DIR`):
// parallel for simulated runs, one at a time for real ones; resumable; failures recorded.
//
// Sweep directory layout:
//   index.csv           one row per run (see write_index)
//   sweep.yaml          copy of the sweep file
//   <run name>/         the run directory written by the child
//   inputs/<name>.yaml  the config handed to the child
//   logs/<name>.out|.err  the child's stdout / stderr
//   logs/<name>.error   present only while the run is failed: exit status and stderr tail
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/sweep_spec.hpp"

namespace synclab::experiments {

struct SweepOptions {
  std::filesystem::path out;          ///< sweep directory
  int jobs = 0;                       ///< parallel children for sim/train runs; 0 = all cores
  std::filesystem::path program;      ///< the synclab binary; empty = this process's binary
  int shard_index = 0;                ///< run only runs with index % shard_count == shard_index
  int shard_count = 1;
  std::FILE* progress = stderr;       ///< progress lines go here; nullptr = silent
};

struct SweepOutcome {
  std::size_t total = 0;   ///< runs in this shard
  std::size_t cached = 0;  ///< already finished (summary.json present), not rerun
  std::size_t ran = 0;     ///< children started and succeeded
  std::size_t failed = 0;  ///< children that failed (recorded in index.csv)
};

/// Runs what is not finished yet, then rewrites index.csv. Throws Error only for problems
/// of the sweep itself (unwritable directory, missing binary), never for a failed run.
SweepOutcome run_sweep(const SweepSpec& spec, const SweepOptions& options);

/// Rebuilds out/index.csv from what is on disk (also the merge step after Slurm shards).
/// Columns: run, status (ok | failed | pending), backend, one per swept leaf key (a swept
/// map gives one column per entry, e.g. policy.name, policy.staleness; named "sweep.<key>"
/// when the key clashes with a fixed column), seed, then policy, workers, updates, samples,
/// time_s, final_test_accuracy, final_test_loss, mean_staleness, max_staleness, bytes_sent,
/// updates_per_s, samples_per_s, stop_reason, error. A run is ok only when its summary.json
/// exists, its stop_reason is no failure and no logs/<run>.error says its child failed.
void write_index(const std::vector<SweepRun>& runs, const SweepSpec& spec, const std::filesystem::path& out);

/// One swept value as an index.csv cell: a scalar as written, a list as one-line JSON.
std::string index_cell(const YAML::Node& value);

/// A YAML value as JSON: numbers and true/false typed, other scalars strings.
nlohmann::ordered_json yaml_to_json(const YAML::Node& value);

/// Last lines of a text file (at most max_lines non-empty lines, joined by " | ").
std::string tail_lines(const std::filesystem::path& file, std::size_t max_lines, std::size_t max_chars);

}  // namespace synclab::experiments
