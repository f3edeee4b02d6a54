// The shard's gradient path, top to bottom: a worker's event goes into the ServerCore
// (recorded in real.trace when asked), and its outbox is executed here: replies and
// cancels to the workers, timers, updates.csv rows, evaluations, checkpoints and stops.
#include "real/ps/ps_server.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "policies/local_lr.hpp"
#include "policies/registry.hpp"
#include "real/protocol/fingerprint.hpp"
#include "real/ps/shard.hpp"
#include "real/ps/shard_files.hpp"

namespace synclab::real {
namespace {

// The policy named in config.policy over `range`, with params initialised exactly as the
// in-process and simulated drivers do: the whole model from train.seed, then the range.
std::unique_ptr<ServerCore> make_shard_core(const RunConfig& config, const ModelSpec& spec, Range range) {
  std::vector<float> all(spec.num_params());
  init_params(spec, all.data(), config.train.seed);
  ServerCoreOptions options;
  options.range = range;
  options.optimizer = config.train.optimizer;
  return std::make_unique<ServerCore>(make_policy(config.policy, config.cluster.workers).server,
                                      std::span<const float>(all).subspan(range.begin, range.size()), options);
}

}  // namespace

Shard::Shard(const PsOptions& o)
    : o_(o),
      spec_(make_model_spec(o.config.model)),
      name_(fmt::format("ps{}", o.shard)),
      acceptor_(io_),
      signals_(io_, SIGINT, SIGTERM),
      status_timer_(io_),
      start_timer_(io_),
      checkpoint_timer_(io_),
      stop_timer_(io_),
      eval_pool_(1) {
  if (o_.shard < 0 || o_.shard >= o_.shards) throw ConfigError("--shard", fmt::format("{} not in [0, {})", o_.shard, o_.shards));
  range_ = shard_ranges(spec_.num_params(), o_.shards)[static_cast<std::size_t>(o_.shard)];
  limits_ = o_.limits;
  limits_.max_param_payload = max_param_payload(range_.size());
  // Strangers may only send a hello; once admitted, every worker and observer may hold a
  // frame in flight and a recycled buffer. The cap bounds what peers holding the token
  // can make this process buffer, with room to spare for a legitimate job.
  limits_.await_hello = true;
  const std::size_t peers = static_cast<std::size_t>(o_.config.cluster.workers + o_.shards) + 4;
  limits_.budget = std::make_shared<ReceiveBudget>(peers * 2 * limits_.max_param_payload + (std::size_t{64} << 20));
  identity_ = ShardIdentity{o_.token, model_fingerprint(spec_), spec_.name, static_cast<std::uint32_t>(o_.shard), range_.begin, range_.end,
                            o_.config.cluster.workers};
  workers_.resize(static_cast<std::size_t>(o_.config.cluster.workers));
  core_ = make_shard_core(o_.config, spec_, range_);
  // real.trace is validated by the schema (off|on) and only read here, from the resolved config.
  if (o_.config.resolved["real"]["trace"].as<std::string>("off") == "on")
    trace_ = std::make_unique<TraceRecorder>(o_.run_dir / "trace" / fmt::format("ps{}.csv", o_.shard));
  checkpoints_ = std::make_unique<ShardCheckpoints>(o_.checkpoint_dir, o_.shard, identity_.fingerprint, range_, name_);
}

int Shard::run() {
  if (o_.token.empty()) throw ConfigError("real.token", "empty job token (set real.token or SYNCLAB_TOKEN)");
  if (auto resumed = checkpoints_->resume(*core_, o_.fresh)) {
    time_offset_ = resumed->run_time;
    samples_ = resumed->samples;
    last_version_ = version();
    trace(TraceEvent{TraceEvent::Kind::Resumed, -1, 0, 0, 0, 0});
  }
  open_outputs();
  listen();
  start_ = Clock::now();
  asio::co_spawn(io_, accept_loop(), asio::detached);
  start_eval_gather();
  asio::co_spawn(io_, status_loop(), asio::detached);
  // real.timeout also bounds the wait for the first worker: a PS nobody talks to fails
  // with a reason instead of serving an empty port for ever.
  all_gone_since_ = Clock::now();
  asio::co_spawn(io_, no_worker_watch(), asio::detached);
  if (o_.checkpoint_seconds > 0 && checkpoints_->enabled()) asio::co_spawn(io_, checkpoint_loop(), asio::detached);
  signals_.async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    // A launcher that died takes its roles with it (parent-death signal): say so.
    spdlog::warn("{}: signal {} received{}, shutting down", name_, sig, ::getppid() != parent_ ? " (its launcher is gone)" : "");
    exit_code_ = 128 + sig;
    io_.stop();
  });
  // With several shards the first evaluation waits until the other shards are reachable.
  if (o_.shard == 0 && o_.shards == 1 && version() == 0 && writer_) schedule_eval(0);
  if (o_.config.train.stop_updates && version() >= o_.config.train.stop_updates) begin_stop("updates");
  io_.run();
  eval_pool_.join();
  if (exit_code_ == 0 || finished_) finish();
  return exit_code_;
}

void Shard::open_outputs() {
  if (o_.shard != 0) return;
  // A resumed shard re-emits the rows it had written up to its checkpoint, so the run
  // directory reads as one continuous run.
  auto old_updates = read_csv_rows(o_.run_dir / "updates.csv", version());
  auto old_evals = read_csv_rows(o_.run_dir / "evals.csv", version());
  writer_ = std::make_unique<RunWriter>(o_.run_dir, o_.config);
  for (const auto& r : old_updates) writer_->update(r.time_s, r.update, static_cast<int>(r.a), static_cast<std::int64_t>(r.b), r.c);
  for (const auto& r : old_evals) writer_->eval(r.time_s, r.update, static_cast<std::uint64_t>(r.a), r.b, r.c);
  if (!old_evals.empty()) last_eval_ = TestResult{old_evals.back().b, old_evals.back().c, 0};
  const DataSplit data = load_data(o_.config.data.source, o_.config.train.seed);
  test_ = std::make_unique<Dataset>(data.test);
  NetworkOptions no;
  no.max_batch = kEvalBatch;
  no.threads = 1;
  eval_net_ = make_network(spec_, BackendKind::Fast, no);
}

void Shard::listen() {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(o_.bind, ec);
  if (ec) throw ConfigError("--bind", fmt::format("'{}' is not an IP address", o_.bind));
  asio::ip::tcp::endpoint ep(addr, o_.port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec) throw Error(fmt::format("{}: cannot listen on {}:{}: {}", name_, o_.bind, o_.port, ec.message()));
  acceptor_.listen(64);
  const auto port = acceptor_.local_endpoint().port();
  spdlog::info("{}: pid {} serving range [{}, {}) of {} ({} floats) on {}:{}, policy {}, {} workers, version {}", name_, ::getpid(),
               range_.begin, range_.end, spec_.name, range_.size(), o_.bind, port, core_->policy().name(), workers_.size(), version());
  if (!o_.port_file.empty()) write_file_atomic(o_.port_file, fmt::format("{}\n", port));
  if (o_.shard == 0)
    if (const auto warning = local_lr_warning(o_.config.policy.name, make_policy(o_.config.policy, o_.config.cluster.workers).worker,
                                              o_.config.train.optimizer))
      spdlog::warn("{}: {}", name_, *warning);
}

// ---- events into the core ---------------------------------------------------------
void Shard::on_push(Push&& p) {
  PushInfo info;
  info.id = make_push_id(p.worker, p.clock);
  info.worker = p.worker;
  info.base_version = p.base_version;
  info.worker_clock = p.clock;
  info.loss = p.loss;
  info.kind = p.kind;
  info.local_steps = static_cast<int>(p.steps);
  // Samples count when the gradient is applied, never for a dropped or rejected push.
  samples_by_push_[info.id] = p.samples;
  try {
    core_->push(info, std::move(p.values));
  } catch (const Error& e) {
    samples_by_push_.erase(info.id);
    spdlog::info("{}: policy: push from worker {} rejected: {}", name_, p.worker, e.what());
    return;
  }
  trace(TraceEvent{TraceEvent::Kind::Push, p.worker, p.clock, p.base_version, 0, 0});
  execute(core_->take_outbox());
}

void Shard::on_pull(const PullRequest& p) {
  core_->pull(PullInfo{p.worker, p.clock});
  trace(TraceEvent{TraceEvent::Kind::Pull, p.worker, p.clock, 0, 0, 0});
  execute(core_->take_outbox());
}

void Shard::on_worker_lost(int worker) {
  core_->worker_lost(worker);
  trace(TraceEvent{TraceEvent::Kind::Lost, worker, 0, 0, 0, 0});
  execute(core_->take_outbox());
}

void Shard::on_worker_joined(int worker) {
  core_->worker_joined(worker);
  trace(TraceEvent{TraceEvent::Kind::Joined, worker, 0, 0, 0, 0});
  execute(core_->take_outbox());
}

void Shard::on_timer(TimerId id) {
  core_->timer(id);
  trace(TraceEvent{TraceEvent::Kind::Timer, -1, 0, 0, id, 0});
  execute(core_->take_outbox());
}

// Each event with the version it left: exactly what the policy saw, in its order.
void Shard::trace(TraceEvent event) {
  if (!trace_) return;
  event.version = version();
  trace_->record(event);
}

// ---- the core's decisions ---------------------------------------------------------
void Shard::execute(ServerOutbox&& box) {
  for (const auto& x : box.dropped) {
    samples_by_push_.erase(x.push);
    spdlog::info("{}: policy: dropped push of worker {}: {}", name_, x.worker, x.reason);
  }
  for (const auto& line : box.notes) spdlog::info("{}: policy: {}", name_, line);
  if (box.stop && box.stop->is_error) return fail(box.stop->reason, "error: " + box.stop->reason);
  const double t = now();
  for (const auto& a : box.applied) {
    const auto it = samples_by_push_.find(a.push);
    if (it != samples_by_push_.end()) {
      samples_ += it->second;  // applied gradients only
      samples_by_push_.erase(it);
    }
    if (!writer_) continue;
    writer_->update(t, a.update, a.worker, a.staleness, a.loss);
    if (!std::isfinite(a.loss) && failure_.empty())
      fail(fmt::format("diverged: the training loss of worker {} became {} at update {}; lower train.optimizer.lr", a.worker, a.loss, a.update),
           "diverged");
  }
  if (version() != last_version_) {
    last_version_ = version();
    all_gone_since_.reset();
    after_update();
  }
  for (const auto& timer : box.timers) schedule_timer(timer);
  if (stopping_) return;
  for (int w : box.cancels) {
    auto& slot = workers_[static_cast<std::size_t>(w)];
    if (slot.conn && slot.conn->open()) slot.conn->send(encode(Cancel{slot.pushes}));
  }
  for (const auto& r : box.replies) {
    auto& slot = workers_[static_cast<std::size_t>(r.worker)];
    if (slot.conn && slot.conn->open()) send_snapshot(slot.conn, r);
  }
  if (box.stop) begin_stop(box.stop->reason);
}

void Shard::after_update() {
  const auto v = version();
  const auto& tc = o_.config.train;
  if (writer_ && tc.eval_every && v / tc.eval_every > last_eval_bucket_) {
    last_eval_bucket_ = v / tc.eval_every;
    schedule_eval(v);
  }
  if (tc.stop_updates && v >= tc.stop_updates) begin_stop("updates");
  else if (tc.stop_time > 0 && now() >= tc.stop_time) begin_stop("time");
  // (A stopping shard writes its final checkpoint in finish().)
  if (!stopping_ && checkpoints_->due(v, o_.checkpoint_every)) checkpoint();
}

void Shard::schedule_timer(const StartTimer& r) {
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(seconds_d(r.seconds));
  timer->async_wait([this, timer, id = r.id](const asio::error_code& ec) {
    if (ec || stopping_) return;
    on_timer(id);
  });
}

// ---- checkpoints --------------------------------------------------------------------
void Shard::checkpoint() {
  // A checkpoint never lists events the trace or the run directory lack.
  if (trace_) trace_->flush();
  if (writer_) writer_->flush();
  if (auto failed = checkpoints_->write(*core_, now(), samples_); failed && !stopping_) fail(*failed, "error: " + *failed);
}

asio::awaitable<void> Shard::checkpoint_loop() {
  while (!stopping_) {
    checkpoint_timer_.expires_after(seconds_d(o_.checkpoint_seconds));
    asio::error_code ec;
    co_await checkpoint_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopping_) break;
    checkpoint();
  }
}

// ---- evaluation (shard 0, on its own thread so the server keeps serving) ----------
void Shard::schedule_eval(std::uint64_t v) {
  if (!writer_) return;
  if (gather_) {
    if (gather_->begin(v, now(), samples_)) ++evals_in_flight_;
    return;
  }
  if (o_.shards > 1) return;  // the other shards' addresses are unknown
  const auto p = core_->params();
  ++evals_in_flight_;
  run_eval(std::make_shared<std::vector<float>>(p.begin(), p.end()), v, now(), samples_);
}

// Evaluates a full parameter buffer on the helper thread; evals_in_flight_ was raised.
void Shard::run_eval(std::shared_ptr<std::vector<float>> full, std::uint64_t v, double t, std::uint64_t samples) {
  asio::post(eval_pool_, [this, full, v, t, samples]() {
    const TestResult r = evaluate_dataset(*eval_net_, *full, *test_, o_.config.data.eval_samples);
    asio::post(io_, [this, r, v, t, samples]() {
      --evals_in_flight_;
      writer_->eval(t, v, samples, r.loss, r.accuracy);
      last_eval_ = r;
      spdlog::info("{}: version {} test accuracy {:.4f} loss {:.4f} ({:.1f} s)", name_, v, r.accuracy, r.loss, t);
      if (o_.config.train.stop_accuracy > 0 && r.accuracy >= o_.config.train.stop_accuracy) begin_stop("accuracy");
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
    if (version() == 0 && !first_eval_done_) {
      first_eval_done_ = true;
      schedule_eval(0);
    }
  };
  hooks.gathered = [this](EvalGather::Gathered&& g) { run_eval(std::move(g.params), g.version, g.time, g.samples); };
  hooks.abandoned = [this] {
    --evals_in_flight_;
    maybe_finish();
  };
  gather_ = std::make_unique<EvalGather>(io_, std::move(go), std::move(hooks));
  gather_->start();
}

// ---- stopping ---------------------------------------------------------------------
void Shard::fail(const std::string& why, const std::string& stop_reason) {
  if (failure_.empty()) failure_ = why;
  spdlog::error("{}: {}", name_, why);
  begin_stop(stop_reason);
}

void Shard::begin_stop(const std::string& reason) {
  if (stopping_) return;
  stopping_ = true;
  stop_reason_ = reason;
  stop_time_ = now();
  spdlog::info("{}: stopping at version {} ({:.2f} s): {}", name_, version(), stop_time_, reason);
  for (auto& s : workers_)
    if (s.conn && s.conn->open()) s.conn->send(encode(Stop{reason, version()}));
  checkpoint_timer_.cancel();
  stop_timer_.expires_after(seconds_d(o_.final_wait));
  stop_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    int missing = 0;
    for (const auto& w : workers_) missing += (w.conn && w.conn->open()) ? 1 : 0;
    spdlog::warn("{}: gave up waiting {:g} s for {} worker(s) to say bye", name_, o_.final_wait, missing);
    shutdown();
  });
  maybe_finish();
}

void Shard::maybe_finish() {
  if (!stopping_ || finished_) return;
  for (const auto& s : workers_)
    if (s.conn && s.conn->open()) return;
  if (evals_in_flight_ > 0) return;
  shutdown();
}

void Shard::shutdown() {
  if (finished_) return;
  finished_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  stop_timer_.cancel();
  status_timer_.cancel();
  start_timer_.cancel();
  checkpoint_timer_.cancel();
  signals_.cancel(ec);
  for (auto& s : workers_)
    if (s.conn) s.conn->close("job finished");
  if (!gather_) return io_.stop();
  gather_->finish();
  asio::co_spawn(io_, release_peers_and_stop(), asio::detached);
}

// Tells the other shards the job is over (they finish on it), then stops the loop.
asio::awaitable<void> Shard::release_peers_and_stop() {
  co_await gather_->release();
  io_.stop();
}

asio::awaitable<void> Shard::status_loop() {
  while (!finished_) {
    status_timer_.expires_after(std::chrono::seconds(10));
    asio::error_code ec;
    co_await status_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || finished_) break;
    spdlog::info("{}: {:.1f} s, version {}, {} of {} workers connected", name_, now(), version(), connected_workers(), workers_.size());
  }
}

// Fails the job when no worker has been connected for real.timeout (none came since the
// start, or the last one left and none came back).
asio::awaitable<void> Shard::no_worker_watch() {
  asio::steady_timer tick(io_);
  while (!finished_ && !stopping_) {
    tick.expires_after(seconds_d(std::clamp(o_.lost_grace / 4, 0.05, 1.0)));
    asio::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || finished_ || stopping_) break;
    // Before the first worker: at least kFirstWorkerWait, because workers load their data
    // before they connect, and a short real.timeout (set to find silent peers quickly)
    // must not cut that short.
    static constexpr double kFirstWorkerWait = 30;
    const double grace = first_join_ ? o_.lost_grace : std::max(o_.lost_grace, kFirstWorkerWait);
    if (!all_gone_since_ || Clock::now() - *all_gone_since_ <= seconds_d(grace)) continue;
    const auto why = first_join_ ? fmt::format("no worker connected for {:g} s (real.timeout)", grace)
                                 : fmt::format("no worker connected within {:g} s of the start", grace);
    fail(why, "error: " + why);
  }
}

// ---- the end ------------------------------------------------------------------------
void Shard::finish() {
  checkpoint();
  if (!failure_.empty()) exit_code_ = 3;
  const auto p = core_->params();
  try {
    write_shard_params(o_.run_dir, o_.shard, range_, p);
  } catch (const std::exception& e) {
    // On a full disk the summary (small) may still fit: it says what was lost.
    spdlog::error("{}: cannot write the final parameters: {}", name_, e.what());
    if (failure_.empty()) failure_ = fmt::format("cannot write the final parameters: {}", e.what());
    exit_code_ = 3;
  }
  if (!writer_) return;
  const TestResult final_eval = o_.shards == 1 ? evaluate_dataset(*eval_net_, p, *test_, 0) : last_eval_;
  const RunSummary s = summary(p, final_eval);
  writer_->finish(s);
  spdlog::info("{}: run directory {} written (final accuracy {:.4f})", name_, o_.run_dir.string(), s.final_test_accuracy);
}

RunSummary Shard::summary(std::span<const float> p, const TestResult& final_eval) const {
  RunSummary s;
  s.backend = "real";
  s.policy = core_->policy().name();
  s.workers = static_cast<int>(workers_.size());
  s.updates = version();
  s.time_s = stop_time_ > 0 ? stop_time_ : now();
  s.final_test_accuracy = final_eval.accuracy;
  s.final_test_loss = final_eval.loss;
  s.mean_staleness = writer_->mean_staleness();
  s.max_staleness = writer_->max_staleness();
  s.stop_reason = stop_reason_;
  s.final_params_sha256 = o_.shards == 1 ? sha256_hex(p) : std::string();
  nlohmann::json per_worker = nlohmann::json::array();
  std::uint64_t bytes = 0;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    const auto& r = workers_[w].report;
    bytes += r.bytes_sent + (workers_[w].conn ? workers_[w].conn->bytes_sent() : 0);
    per_worker.push_back({{"worker", w},
                          {"compute_s", r.compute_s},
                          {"wait_s", r.wait_s},
                          {"communicate_s", r.communicate_s},
                          {"steps", r.steps},
                          {"pushes", r.pushes},
                          {"samples", r.samples},
                          {"bytes_sent", r.bytes_sent},
                          {"device", r.device},
                          {"reported", workers_[w].reported}});
  }
  // Samples of applied gradients only, as in every driver (the workers' own counts, in
  // per_worker, include the steps the policy dropped or cancelled).
  s.samples = samples_;
  s.bytes_sent = bytes;
  s.extra = {{"model", spec_.name},
             {"shards", o_.shards},
             {"num_params", spec_.num_params()},
             {"batch", o_.config.data.batch},
             {"seed", o_.config.train.seed},
             {"updates_per_s", s.time_s > 0 ? static_cast<double>(s.updates) / s.time_s : 0.0},
             {"per_worker", per_worker},
             {"resumed_from_time_s", time_offset_},
             {"failure", failure_},
             {"optimizer", o_.config.train.optimizer.name},
             {"lr", o_.config.train.optimizer.lr}};
  // The rate the workers' local steps really used (policy.lr or the optimizer's fallback).
  if (const auto wp = make_policy(o_.config.policy, o_.config.cluster.workers).worker; wp.payload == PayloadKind::ModelDelta)
    s.extra["local_lr"] = local_step_lr(wp, o_.config.train.optimizer);
  return s;
}

int run_ps(const PsOptions& options) {
  // Under a file-size limit a write beyond it would kill the process (SIGXFSZ); ignored,
  // it fails with EFBIG and is reported with the file's name like any full disk.
  ::signal(SIGXFSZ, SIG_IGN);
  Shard shard(options);
  return shard.run();
}

}  // namespace synclab::real
