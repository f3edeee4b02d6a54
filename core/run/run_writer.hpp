#pragma once
// Writes a run directory (docs/run-directory.md): config.yaml, updates.csv, evals.csv,
// summary.json, and the same scalars as a TensorBoard event file (events.out.tfevents.synclab).
// Used identically by train, sim and real so reports read one format.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.hpp"  // its files are written with write_file_atomic
#include "core/config/run_config.hpp"
#include "core/run/tb_events.hpp"

namespace synclab {

/// One worker's entry of summary.json's `per_worker` list (seconds of the run's clock).
struct WorkerFigures {
  int worker = 0;
  double compute_s = 0;       ///< forward+backward and local steps
  double wait_s = 0;          ///< the rest of its pulls: the server, the policy (barrier, held pull, staleness bound), queues
  double communicate_s = 0;   ///< its messages arriving, first byte to last (docs/run-directory.md)
  std::uint64_t steps = 0;    ///< local steps computed, cancelled ones included
  std::uint64_t pushes = 0;   ///< pushes sent, dropped ones included
  std::uint64_t cancelled = 0;  ///< steps cut short by the policy
  std::uint64_t samples = 0;  ///< examples the worker computed on (the summary's `samples` counts applied ones only)
  std::uint64_t bytes_sent = 0;
  bool failed = false;        ///< crashed (cluster.failures) or never reported
  std::string device;         ///< where it computed ("" in timing mode)
};

/// The figures every summary.json carries, one set of keys for every backend
/// (docs/run-directory.md); `extra` adds backend-specific fields after them.
struct RunSummary {
  std::string backend;  ///< "sim" | "real" | "train"
  std::string policy;
  int workers = 0;
  std::uint64_t updates = 0;
  std::uint64_t samples = 0;
  double time_s = 0;
  double final_test_accuracy = 0;
  double final_test_loss = 0;
  double mean_staleness = 0;
  std::int64_t max_staleness = 0;
  std::uint64_t bytes_sent = 0;
  std::string final_params_sha256;
  std::string stop_reason;      ///< "updates" | "time" | "accuracy" | ...
  std::string error;            ///< why a failed run failed (written only when set)
  int shards = 0;               ///< parameter-server shards (0 for train)
  std::uint64_t dropped_pushes = 0;  ///< pushes the policy dropped (never samples)
  std::vector<WorkerFigures> per_worker;  ///< one entry per worker
  nlohmann::json extra = nlohmann::json::object();
};

/// True for a stop_reason that records a failed run: "failed", "deadlock", "diverged", "error" or
/// "error: <why>" (its summary.json is written all the same, for the post-mortem).
bool is_failure_stop_reason(std::string_view reason);

class RunWriter {
 public:
  /// Creates dir (and parents), writes config.yaml, opens the CSVs with their headers;
  /// Error naming the file when one of them cannot be written.
  RunWriter(const std::filesystem::path& dir, const RunConfig& config);
  /// One applied gradient: time_s,update,worker,staleness,loss. Never throws: a failed
  /// write is kept in write_error() (callers run inside servers and simulated actors).
  void update(double time_s, std::uint64_t update, int worker, std::int64_t staleness, double loss);
  /// One evaluation: time_s,update,samples,test_loss,test_accuracy. Never throws (see update).
  void eval(double time_s, std::uint64_t update, std::uint64_t samples, double test_loss, double test_accuracy);
  /// Pushes buffered CSV rows to the files (a checkpointing server calls it before each checkpoint).
  void flush();
  /// The first failed write, "<file>: cannot write: <reason> (after N rows)"; empty while
  /// every write succeeded. Rows after a failure are dropped, so check it as the run goes.
  const std::string& write_error() const { return write_error_; }
  /// Flushes and closes the CSVs and writes summary.json atomically (temp file + rename);
  /// throws Error with write_error() instead when a CSV write failed (no summary then).
  void finish(const RunSummary& summary);
  const std::filesystem::path& dir() const { return dir_; }
  /// Staleness statistics over the rows written so far.
  double mean_staleness() const { return rows_ ? static_cast<double>(staleness_sum_) / static_cast<double>(rows_) : 0.0; }
  std::int64_t max_staleness() const { return max_staleness_; }

 private:
  std::filesystem::path dir_;
  /// Writes the pending update's mean loss and staleness to the event file.
  void flush_update_event();
  /// Event-file writes; a failure is kept in write_error_ and ends the event file only.
  void emit_events(double time_s, std::int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
  void flush_events();

  void check(std::ofstream& out, const char* file);
  std::ofstream updates_, evals_;
  std::string write_error_;
  std::unique_ptr<EventFileWriter> events_;
  // The update being accumulated for the event file (a bsp update has one row per worker).
  std::uint64_t pending_update_ = 0, pending_rows_ = 0;
  double pending_time_ = 0, pending_loss_ = 0, pending_staleness_ = 0;
  // The previous evaluation, for the throughput between evaluations.
  double last_eval_time_ = 0;
  std::uint64_t last_eval_update_ = 0, last_eval_samples_ = 0;
  std::uint64_t rows_ = 0;
  std::int64_t staleness_sum_ = 0, max_staleness_ = 0;
};

/// Lowercase hex SHA-256 of the raw bytes of a float buffer (little-endian fp32).
std::string sha256_hex(std::span<const float> values);

/// Test samples per forward pass of an evaluation, in every driver: a network that
/// evaluates needs max_batch >= kEvalBatch.
inline constexpr std::size_t kEvalBatch = 100;

/// Test-set evaluation in chunks of `chunk` samples (at most the network's max batch):
/// mean loss and accuracy over the first `limit` samples (0 = all).
struct TestResult {
  double loss = 0, accuracy = 0;
  std::size_t samples = 0;
};
TestResult evaluate_dataset(Network& net, std::span<const float> params, const Dataset& test, std::size_t limit = 0,
                            std::size_t chunk = kEvalBatch);

}  // namespace synclab
