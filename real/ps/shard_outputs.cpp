// What a shard leaves behind: shard 0 writes the run directory through the run monitor
// (rows carried over on resume, evaluations on a helper thread, the summary); every shard
// writes its final parameter range.
#include <asio/post.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "policies/local_lr.hpp"
#include "policies/registry.hpp"
#include "real/ps/shard.hpp"
#include "real/ps/shard_files.hpp"

namespace synclab::real {

void Shard::open_outputs(const std::optional<ShardCheckpoints::Resumed>& resumed) {
  if (o_.shard == 0) {
    writer_ = std::make_unique<RunWriter>(o_.run_dir, o_.config);
    const DataSplit data = load_data(o_.config.data.source, o_.config.train.seed);
    test_ = std::make_unique<Dataset>(data.test);
    NetworkOptions no;
    no.max_batch = kEvalBatch;
    no.threads = 1;
    eval_net_ = make_network(spec_, BackendKind::Fast, no);
  }
  // Every shard holds itself to the stop limits; only shard 0 evaluates and writes.
  monitor_ = std::make_unique<RunMonitor>(MonitorLimits::from(o_.config, o_.shard == 0), writer_.get());
  if (!resumed) return;
  // A resumed shard re-emits the rows it had written up to its checkpoint, so the run
  // directory reads as one continuous run and its staleness figures cover all of it.
  if (writer_) {
    for (const auto& r : read_csv_rows(o_.run_dir / "updates.csv", version()))
      act(monitor_->applied(r.time_s, AppliedGradient{r.update, static_cast<int>(r.a), static_cast<std::int64_t>(r.b), r.c, 0}));
    for (const auto& r : read_csv_rows(o_.run_dir / "evals.csv", version()))
      act(monitor_->evaluated(EvalPoint{r.time_s, r.update, static_cast<std::uint64_t>(r.a), o_.config.data.eval_samples}, TestResult{r.b, r.c, 0}));
  }
  monitor_->resumed(resumed->run_time, version(), resumed->samples);
  act(monitor_->version(resumed->run_time, version()));
}

// ---- evaluation (shard 0, on its own thread so the server keeps serving) ----------
void Shard::evaluate(const EvalPoint& at) {
  if (!eval_net_) return;
  if (gather_) {
    if (gather_->begin(at)) ++evals_in_flight_;
    return;
  }
  if (o_.shards > 1) return;  // the other shards' addresses are unknown
  const auto p = core_->params();
  ++evals_in_flight_;
  run_eval(std::make_shared<std::vector<float>>(p.begin(), p.end()), at);
}

// Evaluates a full parameter buffer on the helper thread; evals_in_flight_ was raised.
void Shard::run_eval(std::shared_ptr<std::vector<float>> full, const EvalPoint& at) {
  asio::post(eval_pool_, [this, full, at]() {
    const TestResult r = evaluate_dataset(*eval_net_, *full, *test_, at.test_samples);
    asio::post(io_, [this, r, at]() {
      --evals_in_flight_;
      spdlog::info("{}: version {} test accuracy {:.4f} loss {:.4f} ({:.1f} s)", name_, at.version, r.accuracy, r.loss, at.time);
      act(monitor_->evaluated(at, r));
      maybe_finish();
    });
  });
}

// Several shards: shard 0 evaluates the model joined from every shard's range.
void Shard::start_eval_gather() {
  if (o_.shard != 0 || o_.shards < 2) return;
  if (o_.peers.size() != static_cast<std::size_t>(o_.shards - 1)) {
    spdlog::warn("{}: no addresses of the other {} shard(s) (--peers / --ps_hosts): evaluations only at the end", name_, o_.shards - 1);
    return;
  }
  EvalGather::Options go{name_, o_.peers, shard_ranges(spec_.num_params(), o_.shards), spec_.num_params(), identity_.fingerprint, spec_.name,
                         o_.token, limits_, o_.lost_grace};
  EvalGather::Hooks hooks;
  hooks.own_params = [this] { return core_->params(); };
  hooks.connected = [this] {
    if (!first_eval_) return;
    const EvalPoint at = *first_eval_;
    first_eval_.reset();
    if (version() == 0) evaluate(at);
  };
  hooks.gathered = [this](EvalGather::Gathered&& g) { run_eval(std::move(g.params), g.at); };
  hooks.abandoned = [this] {
    --evals_in_flight_;
    maybe_finish();
  };
  gather_ = std::make_unique<EvalGather>(io_, std::move(go), std::move(hooks));
  gather_->start();
}

// ---- the end ------------------------------------------------------------------------
void Shard::finish() {
  checkpoint();
  const auto p = core_->params();
  try {
    write_shard_params(o_.run_dir, o_.shard, range_, p);
  } catch (const std::exception& e) {
    // On a full disk the summary (small) may still fit: it says what was lost.
    spdlog::error("{}: cannot write the final parameters: {}", name_, e.what());
    final_error_ = fmt::format("cannot write the final parameters: {}", e.what());
  }
  const bool failed = monitor_->stop_state() && monitor_->stop_state()->failed();
  if (failed || !final_error_.empty()) exit_code_ = 3;
  if (!writer_) return;
  // With several shards the launcher scores the merged model (final_test_* in the summary).
  if (o_.shards == 1)
    if (const auto at = monitor_->final_evaluation()) monitor_->final_evaluated(*at, evaluate_dataset(*eval_net_, p, *test_, at->test_samples));
  const RunSummary s = summary(p);
  writer_->finish(s);
  spdlog::info("{}: run directory {} written (final accuracy {:.4f})", name_, o_.run_dir.string(), s.final_test_accuracy);
}

RunSummary Shard::summary(std::span<const float> p) const {
  RunSummary s;
  s.backend = "real";
  s.policy = core_->policy().name();
  s.workers = static_cast<int>(workers_.size());
  s.shards = o_.shards;
  monitor_->fill(s);  // updates, samples (applied gradients only), time, final figures, stop
  if (s.error.empty()) s.error = final_error_;
  s.final_params_sha256 = o_.shards == 1 ? sha256_hex(p) : std::string();
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& r = workers_[w].report;
    s.bytes_sent += r.bytes_sent + (workers_[w].conn ? workers_[w].conn->bytes_sent() : 0);
    // The workers' own figures: their steps and samples include dropped and cancelled ones.
    // A worker cannot see its push arrive: the time it did, here, moves from its wait to
    // its communication (the simulator counts shard 0's receipt alike).
    const double pushed = workers_[w].reported ? std::min(workers_[w].push_receive_s, r.wait_s) : 0.0;
    s.per_worker.push_back(WorkerFigures{static_cast<int>(w), r.compute_s, r.wait_s - pushed, r.communicate_s + pushed, r.steps, r.pushes,
                                         r.cancelled, r.samples, r.bytes_sent, !workers_[w].reported, r.device});
  }
  s.extra = {{"model", spec_.name},
             {"num_params", spec_.num_params()},
             {"batch", o_.config.data.batch},
             {"seed", o_.config.train.seed},
             {"resumed_from_time_s", time_offset_},
             {"optimizer", o_.config.train.optimizer.name},
             {"lr", o_.config.train.optimizer.lr}};
  // The rate the workers' local steps really used (policy.lr or the optimizer's fallback).
  if (const auto wp = make_policy(o_.config.policy, o_.config.cluster.workers).worker; wp.payload == PayloadKind::ModelDelta)
    s.extra["local_lr"] = local_step_lr(wp, o_.config.train.optimizer);
  return s;
}

}  // namespace synclab::real
