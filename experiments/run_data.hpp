#pragma once
// Reads run directories (docs/run-directory.md) and finds them inside sweep directories.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "experiments/train_loss.hpp"

namespace synclab::experiments {

/// One row of evals.csv.
struct EvalPoint {
  double time_s = 0;
  std::uint64_t update = 0;
  std::uint64_t samples = 0;
  double test_loss = 0;
  double test_accuracy = 0;
};

/// Per-worker time split from summary.json's `per_worker` (docs/experiments.md).
struct WorkerBreakdown {
  int worker = 0;
  double compute_s = 0, wait_s = 0, communicate_s = 0;
};

/// Everything a report needs from one run directory.
struct RunData {
  std::filesystem::path dir;
  std::string name;                           ///< display name: "<sweep>/<run>" or the folder name
  nlohmann::json summary;                     ///< summary.json as written
  std::map<std::string, std::string> config;  ///< config.yaml flattened to dotted keys
  std::vector<EvalPoint> evals;               ///< in file order
  std::map<std::int64_t, std::uint64_t> staleness_counts;  ///< from updates.csv
  std::vector<WorkerBreakdown> breakdown;     ///< empty when the backend did not write it
  std::vector<TrainLossPoint> train_loss;     ///< per server update, from updates.csv
  std::string backend;                        ///< summary backend: sim | real | train
  std::vector<std::string> warnings;          ///< input problems that did not stop the load, one line each naming the file
  double number(const char* key, double fallback = 0) const;  ///< numeric summary field
};

/// A run that failed or did not finish, with its error (from index.csv or its summary.json):
/// it has no summary.json, its child failed, or its summary records a failure. Never compared.
struct FailedRun {
  std::string name;
  std::string status;  ///< failed | pending
  std::string error;
};

/// What discover_runs found under the given directories.
struct Discovery {
  std::vector<std::filesystem::path> runs;  ///< directories of successful runs (summary.json)
  std::vector<FailedRun> failed;            ///< failed and unfinished runs
};

/// Each input is a run directory (has summary.json) or a sweep directory (index.csv or run
/// directories below it, searched two levels deep). Throws Error naming a directory that
/// does not exist or holds no run.
Discovery discover_runs(const std::vector<std::filesystem::path>& inputs);

/// Loads one run directory; throws Error naming the file that is missing or malformed
/// (summary.json unparsable, or a figure every report needs missing or of the wrong type:
/// backend, policy, updates, time_s, final_test_accuracy). Lesser problems (an optional
/// summary field of the wrong type, malformed rows of evals.csv or updates.csv) become
/// warnings and the offending field or rows are left out.
RunData load_run(const std::filesystem::path& dir, const std::string& name);

/// A whole field as a number ("nan" and "inf" included: a diverged run writes them);
/// false for anything else, `out` then unspecified.
bool parse_number(const std::string& text, double& out);

/// Flattens a YAML map to dotted keys; sequences and scalars become one-line text.
std::map<std::string, std::string> flatten_yaml(const YAML::Node& node);

}  // namespace synclab::experiments
