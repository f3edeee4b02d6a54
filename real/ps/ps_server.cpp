// The shard's gradient path, top to bottom: a worker's event goes into the ServerCore
// (recorded in real.trace when asked), and its outbox is executed here: replies and
// cancels to the workers, timers, updates.csv rows, evaluations, checkpoints and stops.
#include "real/ps/ps_server.hpp"

#include <signal.h>

#include <algorithm>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "policies/local_lr.hpp"
#include "policies/registry.hpp"
#include "real/protocol/fingerprint.hpp"
#include "real/ps/shard.hpp"

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
  const auto resumed = checkpoints_->resume(*core_, o_.fresh);
  if (resumed) {
    time_offset_ = resumed->run_time;
    last_version_ = version();
    trace(TraceEvent{TraceEvent::Kind::Resumed, -1, 0, 0, 0, 0});
  }
  open_outputs(resumed);
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
  // Version 0 is evaluated first; with several shards once the others are reachable.
  if (version() == 0)
    if (const MonitorActions first = monitor_->started(); first.evaluate) {
      if (gather_) first_eval_ = first.evaluate;
      else act(first);
    }
  io_.run();
  eval_pool_.join();
  if (exit_code_ == 0 || finished_) finish();
  return exit_code_;
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
  try {
    core_->push(info, std::move(p.values));
  } catch (const Error& e) {
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

// ---- the core's decisions and the monitor's actions --------------------------------
void Shard::execute(ServerOutbox&& box) {
  const double t = now();
  for (const auto& x : box.dropped) {
    monitor_->dropped(t, x.worker);
    spdlog::info("{}: policy: dropped push of worker {}: {}", name_, x.worker, x.reason);
  }
  for (const auto& line : box.notes) spdlog::info("{}: policy: {}", name_, line);
  if (box.stop && box.stop->is_error) return stop("error", box.stop->reason);
  // Samples count when a gradient is applied (its local steps x batch), never for a dropped
  // or rejected push.
  for (const auto& a : box.applied)
    act(monitor_->applied(t, AppliedGradient{a.update, a.worker, a.staleness, a.loss, o_.config.data.batch * static_cast<std::uint64_t>(a.local_steps)}));
  if (version() != last_version_) {
    last_version_ = version();
    all_gone_since_.reset();
    act(monitor_->version(t, version()));
    // (A stopping shard writes its final checkpoint in finish().)
    if (!stopping() && checkpoints_->due(version(), o_.checkpoint_every)) checkpoint();
  }
  for (const auto& timer : box.timers) schedule_timer(timer);
  if (stopping()) return;
  for (int w : box.cancels) {
    auto& slot = workers_[static_cast<std::size_t>(w)];
    if (slot.conn && slot.conn->open()) slot.conn->send(encode(Cancel{slot.pushes}));
  }
  for (const auto& r : box.replies) {
    auto& slot = workers_[static_cast<std::size_t>(r.worker)];
    if (slot.conn && slot.conn->open()) send_snapshot(slot.conn, r);
  }
  if (box.stop) stop("policy", box.stop->reason);
}

// What the monitor asks for, in its order: evaluate, then stop.
void Shard::act(const MonitorActions& a) {
  if (a.evaluate) evaluate(*a.evaluate);
  if (a.stop) begin_stop(*a.stop);
}

// A stop the monitor's limits do not decide (policy, error, the coordinator); the first wins.
void Shard::stop(const std::string& reason, const std::string& error) {
  if (!error.empty() && is_failure_stop_reason(reason)) spdlog::error("{}: {}", name_, error);
  act(monitor_->stop(now(), reason, error));
}

void Shard::schedule_timer(const StartTimer& r) {
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timer->expires_after(seconds_d(r.seconds));
  timer->async_wait([this, timer, id = r.id](const asio::error_code& ec) {
    if (ec || stopping()) return;
    on_timer(id);
  });
}

// ---- checkpoints --------------------------------------------------------------------
void Shard::checkpoint() {
  // A checkpoint never lists events the trace or the run directory lack.
  if (trace_) trace_->flush();
  if (writer_) writer_->flush();
  if (auto failed = checkpoints_->write(*core_, now(), monitor_->samples())) stop("error", *failed);
}

asio::awaitable<void> Shard::checkpoint_loop() {
  while (!stopping()) {
    checkpoint_timer_.expires_after(seconds_d(o_.checkpoint_seconds));
    asio::error_code ec;
    co_await checkpoint_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopping()) break;
    checkpoint();
  }
}

// ---- stopping ---------------------------------------------------------------------
void Shard::begin_stop(const RunStop& st) {
  // Peers get one line: the reason, and why when the run failed.
  stop_message_ = st.error.empty() || !st.failed() ? st.reason : st.error.starts_with(st.reason) ? st.error : st.reason + ": " + st.error;
  spdlog::info("{}: stopping at version {} ({:.2f} s): {}", name_, version(), st.time, stop_message_);
  for (auto& s : workers_)
    if (s.conn && s.conn->open()) s.conn->send(encode(Stop{stop_message_, version()}));
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
  if (!stopping() || finished_) return;
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

// The time limit holds without updates too: once training started, the monitor is told
// when the run clock reaches it.
asio::awaitable<void> Shard::deadline_watch() {
  asio::steady_timer wait(io_);
  while (!finished_ && !stopping()) {
    wait.expires_after(seconds_d(std::max(0.0, *monitor_->deadline() - now())));
    asio::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || finished_) break;
    act(monitor_->clock(now()));
  }
}

// Fails the job when no worker has been connected for real.timeout (none came since the
// start, or the last one left and none came back).
asio::awaitable<void> Shard::no_worker_watch() {
  asio::steady_timer tick(io_);
  while (!finished_ && !stopping()) {
    tick.expires_after(seconds_d(std::clamp(o_.lost_grace / 4, 0.05, 1.0)));
    asio::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec || finished_ || stopping()) break;
    // Before the first worker: at least kFirstWorkerWait, because workers load their data
    // before they connect, and a short real.timeout (set to find silent peers quickly)
    // must not cut that short.
    static constexpr double kFirstWorkerWait = 30;
    const double grace = first_join_ ? o_.lost_grace : std::max(o_.lost_grace, kFirstWorkerWait);
    if (!all_gone_since_ || Clock::now() - *all_gone_since_ <= seconds_d(grace)) continue;
    stop("error", first_join_ ? fmt::format("no worker connected for {:g} s (real.timeout)", grace)
                              : fmt::format("no worker connected within {:g} s of the start", grace));
  }
}

int run_ps(const PsOptions& options) {
  // Under a file-size limit a write beyond it would kill the process (SIGXFSZ); ignored,
  // it fails with EFBIG and is reported with the file's name like any full disk.
  ::signal(SIGXFSZ, SIG_IGN);
  Shard shard(options);
  return shard.run();
}

}  // namespace synclab::real
