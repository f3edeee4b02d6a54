// Run directories: the one on-disk format that train, sim and real share and reports read.
#include "core/run/run_writer.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

namespace {

std::ofstream open_csv(const std::filesystem::path& path, const char* header) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw Error(path.string() + ": cannot create: " + std::strerror(errno));
  out << header << '\n';
  // The header goes out now, so a full disk is found before the run starts.
  out.flush();
  if (!out) throw Error(path.string() + ": cannot write: " + std::strerror(errno));
  return out;
}

}  // namespace

bool is_failure_stop_reason(std::string_view reason) {
  return reason == "failed" || reason == "deadlock" || reason == "diverged" || reason == "error" || reason.starts_with("error:");
}

void write_file_atomic(const std::filesystem::path& path, const std::string& text) {
  // A reader (report, sweep index) never sees a half-written file: write aside, then rename.
  auto tmp = path;
  tmp += ".tmp";
  std::string failure;
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    if (!out) throw Error(path.string() + ": cannot create " + tmp.filename().string() + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (out) out.close();  // close can fail too (a quota, NFS)
    if (!out) failure = std::strerror(errno);
  }
  std::error_code ec;
  if (!failure.empty()) {
    // The old file (if any) stays as it was; the partial copy must not linger.
    std::filesystem::remove(tmp, ec);
    throw Error(path.string() + ": cannot write: " + failure);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error(path.string() + ": cannot replace: " + ec.message());
  }
}

RunWriter::RunWriter(const std::filesystem::path& dir, const RunConfig& config) : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(dir_.string() + ": cannot create the run directory: " + ec.message());
  write_file_atomic(dir_ / "config.yaml", to_yaml(config));
  updates_ = open_csv(dir_ / "updates.csv", "time_s,update,worker,staleness,loss");
  evals_ = open_csv(dir_ / "evals.csv", "time_s,update,samples,test_loss,test_accuracy");
  events_ = std::make_unique<EventFileWriter>(dir_ / "events.out.tfevents.synclab");
  // A stale summary from an earlier run in the same directory would claim a finished run.
  std::filesystem::remove(dir_ / "summary.json", ec);
}

void RunWriter::check(std::ofstream& out, const char* file) {
  // errno still holds the reason of the write(2) that failed just now, inside the stream.
  if (out || !write_error_.empty()) return;
  write_error_ = fmt::format("{}: cannot write: {} (after {} update rows)", (dir_ / file).string(), std::strerror(errno), rows_);
}

void RunWriter::update(double time_s, std::uint64_t update, int worker, std::int64_t staleness, double loss) {
  if (!updates_) return;
  updates_ << fmt::format("{},{},{},{},{:.6g}\n", time_s, update, worker, staleness, loss);
  check(updates_, "updates.csv");
  ++rows_;
  if (pending_rows_ > 0 && update != pending_update_) flush_update_event();
  pending_update_ = update;
  pending_time_ = time_s;
  pending_loss_ += loss;
  pending_staleness_ += static_cast<double>(staleness);
  ++pending_rows_;
  staleness_sum_ += staleness;
  if (staleness > max_staleness_) max_staleness_ = staleness;
}

void RunWriter::eval(double time_s, std::uint64_t update, std::uint64_t samples, double test_loss, double test_accuracy) {
  if (!evals_) return;
  evals_ << fmt::format("{},{},{},{:.6g},{:.6g}\n", time_s, update, samples, test_loss, test_accuracy);
  evals_.flush();  // evaluations are rare; flushing lets a watcher follow the run
  check(evals_, "evals.csv");
  flush_update_event();
  std::vector<std::pair<std::string, float>> scalars = {{"test/loss", static_cast<float>(test_loss)},
                                                        {"test/accuracy", static_cast<float>(test_accuracy)}};
  const double dt = time_s - last_eval_time_;
  if (dt > 0 && update >= last_eval_update_) {
    scalars.emplace_back("throughput/updates_per_s", static_cast<float>(static_cast<double>(update - last_eval_update_) / dt));
    scalars.emplace_back("throughput/samples_per_s",
                         static_cast<float>(static_cast<double>(samples - std::min(samples, last_eval_samples_)) / dt));
  }
  emit_events(time_s, static_cast<std::int64_t>(update), scalars);
  flush_events();
  last_eval_time_ = time_s;
  last_eval_update_ = update;
  last_eval_samples_ = samples;
}

// The event file is a by-product: its failure (a full disk, found there first) is recorded
// like a CSV's, and the run's files report it, instead of ending the run from inside.
void RunWriter::emit_events(double time_s, std::int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  if (!events_) return;
  try {
    events_->scalars(time_s, step, scalars);
  } catch (const Error& e) {
    if (write_error_.empty()) write_error_ = e.what();
    events_.reset();
  }
}

void RunWriter::flush_events() {
  if (!events_) return;
  try {
    events_->flush();
  } catch (const Error& e) {
    if (write_error_.empty()) write_error_ = e.what();
    events_.reset();
  }
}

void RunWriter::flush_update_event() {
  if (pending_rows_ == 0) return;
  const double n = static_cast<double>(pending_rows_);
  emit_events(pending_time_, static_cast<std::int64_t>(pending_update_),
                   {{"train/loss", static_cast<float>(pending_loss_ / n)}, {"train/staleness", static_cast<float>(pending_staleness_ / n)}});
  pending_rows_ = 0;
  pending_loss_ = pending_staleness_ = 0;
}

void RunWriter::finish(const RunSummary& s) {
  flush_update_event();
  // Timing-mode runs have no evaluations: their throughput is the whole run's.
  if (s.time_s > 0)
    emit_events(s.time_s, static_cast<std::int64_t>(s.updates),
                     {{"throughput/run_updates_per_s", static_cast<float>(static_cast<double>(s.updates) / s.time_s)},
                      {"throughput/run_samples_per_s", static_cast<float>(static_cast<double>(s.samples) / s.time_s)}});
  flush();
  if (updates_) updates_.close();
  check(updates_, "updates.csv");
  if (evals_) evals_.close();
  check(evals_, "evals.csv");
  if (!write_error_.empty()) throw Error(write_error_);
  // ordered_json keeps the fields in docs/run-directory.md's order, backend-specific extras after them.
  nlohmann::ordered_json j = {
      {"backend", s.backend},
      {"policy", s.policy},
      {"workers", s.workers},
      {"updates", s.updates},
      {"samples", s.samples},
      {"time_s", s.time_s},
      {"final_test_accuracy", s.final_test_accuracy},
      {"final_test_loss", s.final_test_loss},
      {"mean_staleness", s.mean_staleness},
      {"max_staleness", s.max_staleness},
      {"bytes_sent", s.bytes_sent},
      {"final_params_sha256", s.final_params_sha256},
      {"stop_reason", s.stop_reason},
  };
  if (!s.error.empty()) j["error"] = s.error;
  j["shards"] = s.shards;
  j["dropped_pushes"] = s.dropped_pushes;
  j["updates_per_s"] = s.time_s > 0 ? static_cast<double>(s.updates) / s.time_s : 0.0;
  j["samples_per_s"] = s.time_s > 0 ? static_cast<double>(s.samples) / s.time_s : 0.0;
  nlohmann::ordered_json workers = nlohmann::ordered_json::array();
  for (const WorkerFigures& w : s.per_worker)
    workers.push_back({{"worker", w.worker},
                       {"compute_s", w.compute_s},
                       {"wait_s", w.wait_s},
                       {"communicate_s", w.communicate_s},
                       {"steps", w.steps},
                       {"pushes", w.pushes},
                       {"cancelled", w.cancelled},
                       {"samples", w.samples},
                       {"bytes_sent", w.bytes_sent},
                       {"failed", w.failed},
                       {"device", w.device}});
  j["per_worker"] = std::move(workers);
  for (const auto& [k, v] : s.extra.items()) j[k] = v;
  write_file_atomic(dir_ / "summary.json", j.dump(2) + "\n");
}

void RunWriter::flush() {
  flush_events();
  if (updates_) updates_.flush();
  check(updates_, "updates.csv");
  if (evals_) evals_.flush();
  check(evals_, "evals.csv");
}

}  // namespace synclab
