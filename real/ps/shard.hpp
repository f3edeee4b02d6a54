#pragma once
// The parameter-server shard behind run_ps (private to real/ps). It owns the policy's
// ServerCore and carries messages and time to it; the run monitor (core/run/run_monitor.hpp)
// decides evaluations and stops and counts. ps_server.cpp holds the gradient path (events
// in, the core's decisions and the monitor's actions executed) and stopping;
// shard_outputs.cpp the run directory (rows carried over on resume, evaluations, the
// summary); shard_sessions.cpp the connections (accepting, the hello, each peer's messages).
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include "core/data/dataset.hpp"
#include "core/models/model_spec.hpp"
#include "core/run/run_monitor.hpp"
#include "core/run/run_writer.hpp"
#include "policies/server_core.hpp"
#include "real/net/log_limiter.hpp"
#include "real/ps/eval_gather.hpp"
#include "real/ps/hello_check.hpp"
#include "real/ps/ps_server.hpp"
#include "real/ps/shard_checkpoints.hpp"
#include "real/ps/token_throttle.hpp"
#include "real/ps/trace_recorder.hpp"

namespace synclab::real {

/// One worker's connection and what it reported.
struct WorkerSlot {
  std::shared_ptr<Connection> conn;
  std::uint32_t incarnation = 0;
  bool ever_joined = false, lost = false, said_bye = false, reported = false;
  WorkerReport report;
  std::uint64_t pushes = 0;  ///< pushes received on this slot (the Cancel message names the latest)
  double push_receive_s = 0;  ///< this process's pushes arriving here, first byte to last (its communication, not its wait)
};

class Shard {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Shard(const PsOptions& options);
  /// Serves until the job stops; the process exit code (see run_ps).
  int run();

 private:
  // ---- ps_server.cpp: time, the core's events and decisions, stopping, the summary ----
  double now() const { return time_offset_ + std::chrono::duration<double>(Clock::now() - start_).count(); }
  std::uint64_t version() const { return core_->version(); }
  bool stopping() const { return monitor_->stopped(); }
  void listen();
  void on_push(Push&& push);
  void on_pull(const PullRequest& pull);
  void on_worker_lost(int worker);
  void on_worker_joined(int worker);
  void on_timer(TimerId id);
  void trace(TraceEvent event);
  void execute(ServerOutbox&& box);
  void act(const MonitorActions& actions);
  void stop(const std::string& reason, const std::string& error = {});
  void schedule_timer(const StartTimer& timer);
  void checkpoint();
  void begin_stop(const RunStop& stop);
  void maybe_finish();
  void shutdown();
  asio::awaitable<void> release_peers_and_stop();
  asio::awaitable<void> status_loop();
  asio::awaitable<void> checkpoint_loop();
  asio::awaitable<void> no_worker_watch();
  asio::awaitable<void> deadline_watch();

  // ---- shard_outputs.cpp: the run directory and evaluations -------------------------
  void open_outputs(const std::optional<ShardCheckpoints::Resumed>& resumed);
  void evaluate(const EvalPoint& at);
  void run_eval(std::shared_ptr<std::vector<float>> full, const EvalPoint& at);
  void start_eval_gather();
  void finish();
  RunSummary summary(std::span<const float> params) const;

  // ---- shard_sessions.cpp: connections --------------------------------------------
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<Connection> c, std::string address);
  asio::awaitable<bool> admit(const std::shared_ptr<Connection>& c, const Hello& hello, const std::string& address);
  void join_worker(const std::shared_ptr<Connection>& c, const Hello& hello);
  void on_frame(const std::shared_ptr<Connection>& c, Frame& frame, int worker, bool observer, bool* done);
  void hold_pull(const PullRequest& pull);
  void maybe_start(bool deadline = false);
  void arm_start_deadline();
  void on_worker_gone(int w, const char* how);
  int connected_workers() const;
  void reply_params(const std::shared_ptr<Connection>& c);
  void send_snapshot(const std::shared_ptr<Connection>& c, const PullReply& r);

  PsOptions o_;
  ModelSpec spec_;
  Range range_;
  ConnectionLimits limits_;
  ShardIdentity identity_;
  std::string name_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer status_timer_, start_timer_, checkpoint_timer_, stop_timer_;
  asio::thread_pool eval_pool_;

  std::unique_ptr<ServerCore> core_;
  std::unique_ptr<TraceRecorder> trace_;
  std::unique_ptr<ShardCheckpoints> checkpoints_;
  std::vector<WorkerSlot> workers_;
  std::shared_ptr<const std::vector<float>> snapshot_params_;
  std::uint32_t snapshot_crc_ = 0;

  std::unique_ptr<RunWriter> writer_;         // shard 0 only
  std::unique_ptr<RunMonitor> monitor_;
  std::unique_ptr<Dataset> test_;
  std::unique_ptr<Network> eval_net_;
  std::unique_ptr<EvalGather> gather_;
  std::optional<EvalPoint> first_eval_;       // version 0's, until the other shards are reachable
  std::uint64_t last_version_ = 0;
  int evals_in_flight_ = 0;

  Clock::time_point start_ = Clock::now();
  double time_offset_ = 0;
  std::optional<Clock::time_point> all_gone_since_;
  bool finished_ = false, first_join_ = false, started_ = false;
  std::vector<PullRequest> held_pulls_;
  std::string stop_message_;  // what Stop tells the peers
  std::string final_error_;   // the final parameters could not be written
  int exit_code_ = 0;
  pid_t parent_ = ::getppid();

  TokenThrottle tokens_;  // wrong tokens, by source address
  // Accept errors and wrong tokens: one line per interval. Strangers' protocol errors: a
  // few, so that different attacks in the same seconds each leave a line.
  LogLimiter accept_log_{std::chrono::seconds(10)}, token_log_{std::chrono::seconds(10)}, stranger_log_{std::chrono::seconds(10), 5};
};

}  // namespace synclab::real
