#pragma once
// Hand-made run and sweep directories in the docs/run-directory.md format, for report and sweep tests.
#include <cstdint>
#include <filesystem>
#include <string>

namespace synclab::testing {

/// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// What a fixture run looks like.
struct FixtureRun {
  std::string backend = "sim";
  std::string policy = "bsp";
  int staleness = 0;            ///< written as policy.staleness when > 0
  int workers = 2;
  std::uint64_t seed = 1;
  double step_s = 0.5;          ///< time per update; the run has 10 updates, evals every 2
  double acc_scale = 1.0;       ///< accuracy at update u: acc_scale * (0.5 + 0.04 * u)
  std::int64_t max_staleness = 0;
  bool breakdown = true;        ///< write the per-worker breakdown into summary.json
  bool with_evals = true;       ///< false: evals.csv has only its header (timing mode)
  double bandwidth = 0;         ///< cluster.link.bandwidth in bytes/s; 0 = by backend
};

/// Writes config.yaml, evals.csv, updates.csv and summary.json into dir.
void write_fixture_run(const std::filesystem::path& dir, const FixtureRun& run);

/// A small sweep directory: bsp and ssp(2) x seeds 1, 2 (sim), one failed run in index.csv,
/// and a real run whose sim twin shares its config. Returns the sweep directory.
std::filesystem::path write_fixture_sweep(const std::filesystem::path& root);

/// A 12-run sweep: bsp, async, ssp(3) and local-sgd x seeds 1-3, each policy with its own
/// pace, plateau and per-seed noise (async clearly fastest). Returns the sweep directory.
std::filesystem::path write_fixture_sweep12(const std::filesystem::path& root);

}  // namespace synclab::testing
