#pragma once
// A sweep file (docs/run-directory.md, "Sweep files"): a base run config, fixed overrides, a grid
// (product), zipped lists and seeds, expanded into runs with stable directory names.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace synclab::experiments {

/// One swept config key and the values it takes ("backend" picks sim | launch | train).
struct SweepAxis {
  std::string key;
  std::vector<YAML::Node> values;
};

/// `slurm:` of a sweep file: what every sbatch of `synclab sweep --emit-slurm` passes on.
struct SweepSlurm {
  std::string partition;           ///< --partition (empty = the cluster's default)
  std::string time;                ///< --time per array task, Slurm's format ("30", "1:00:00", "1-00:00:00")
  std::string account;             ///< --account
  std::string gres;                ///< --gres of the array tasks ("gpu:1"); not for the merge job
  std::vector<std::string> extra;  ///< further sbatch options, verbatim ("--qos=short", "--mem=8G")
};

/// A parsed sweep file.
struct SweepSpec {
  std::filesystem::path file;        ///< the sweep file (empty when built in memory)
  std::string name;                  ///< `name:` or the file's stem
  std::string backend = "sim";       ///< default child command: sim | launch | train
  YAML::Node base;                   ///< base config (from `base:` + `merge:` or inline `config:`)
  std::vector<SweepAxis> grid;       ///< every combination, first key varies slowest
  std::vector<SweepAxis> zip;        ///< advanced together (equal lengths)
  std::vector<std::uint64_t> seeds;  ///< empty: the config's own seed, no seed axis
  double timeout_s = 0;              ///< per-run wall-clock limit; 0 = none
  SweepSlurm slurm;                  ///< sbatch options for --emit-slurm
};

/// One expanded run.
struct SweepRun {
  std::size_t index = 0;                                 ///< position in expansion order
  std::string name;                                      ///< stable directory name
  std::string backend;                                   ///< sim | launch | train
  std::vector<std::pair<std::string, YAML::Node>> values;///< swept key -> value (seed excluded)
  bool has_seed = false;
  std::uint64_t seed = 0;
  YAML::Node config;                                     ///< base with this run's values applied
};

/// Reads and validates a sweep file; relative `base:`/`merge:` paths are relative to it.
/// Throws ConfigError naming the key (e.g. "zip.cluster.workers") or Error naming the file.
SweepSpec load_sweep(const std::filesystem::path& file);

/// The `slurm:` map of a sweep file; ConfigError names the key ("slurm.time").
SweepSlurm parse_sweep_slurm(const YAML::Node& node);

/// Same from a parsed node; dir resolves relative paths, source names it in errors.
SweepSpec parse_sweep(const YAML::Node& root, const std::filesystem::path& dir, const std::string& source);

/// Expands grid x zip x seeds in a fixed order. Names are unique and depend only on the
/// swept values, so adding values to an axis keeps the names of existing runs.
std::vector<SweepRun> expand_sweep(const SweepSpec& spec);

/// Sets a dotted key ("cluster.link.bandwidth") in a map node, creating maps on the way.
void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value);

/// Short text for a value inside a run name: scalars as written, maps as their values
/// ("{name: ssp, staleness: 2}" -> "ssp-staleness2"), sequences joined with '-'.
std::string value_label(const YAML::Node& value);

/// Compact one-line YAML of a value (flow style), as written in index.csv.
std::string value_text(const YAML::Node& value);

}  // namespace synclab::experiments
