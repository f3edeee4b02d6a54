#include "real/ps/ps_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "core/data/dataset.hpp"
#include "core/run/run_writer.hpp"
#include "policies/local_lr.hpp"
#include "policies/registry.hpp"
#include "real/checkpoint/checkpoint_store.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/net/log_limiter.hpp"
#include "real/protocol/fingerprint.hpp"
#include "real/ps/server_logic.hpp"
#include "real/ps/shard_files.hpp"

namespace synclab::real {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct WorkerSlot {
  std::shared_ptr<Connection> conn;
  std::uint32_t incarnation = 0;
  bool ever_joined = false, lost = false, said_bye = false, reported = false;
  WorkerReport report;
  std::uint64_t pushes = 0;
};

bool same_token(const std::string& a, const std::string& b) {
  // Digests compared in constant time: neither the bytes nor the length of the job token
  // can be learned from how long a refusal takes.
  unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, sizeof da) == 0;
}

// Wrong tokens from one source address: each try after a failure waits for its turn, the
// wait doubling per failure, so guessing is slow even over many parallel connections.
constexpr double kFirstTokenDelay = 0.25, kMaxTokenDelay = 10.0;
constexpr auto kForgetFailuresAfter = std::chrono::minutes(10);
constexpr auto kLogInterval = std::chrono::seconds(10);
// A descriptor shortage (EMFILE/ENFILE) does not clear by retrying at once: pause accepting.
constexpr auto kAcceptPause = std::chrono::milliseconds(500);

struct TokenFailures {
  int failures = 0;
  int pending = 0;  // hellos waiting for their turn
  Clock::time_point next_try{}, last_failure{};
};

double token_delay(int failures) {
  return failures <= 0 ? 0.0 : std::min(kMaxTokenDelay, kFirstTokenDelay * std::pow(2.0, failures - 1));
}

bool out_of_descriptors(const asio::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

class Shard {
 public:
  explicit Shard(const PsOptions& o)
      : o_(o),
        spec_(make_model_spec(o.config.model)),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        status_timer_(io_),
        start_timer_(io_),
        checkpoint_timer_(io_),
        stop_timer_(io_),
        eval_pool_(1) {
    const auto ranges = shard_ranges(spec_.num_params(), o_.shards);
    if (o_.shard < 0 || o_.shard >= o_.shards) throw ConfigError("--shard", fmt::format("{} not in [0, {})", o_.shard, o_.shards));
    range_ = ranges[static_cast<std::size_t>(o_.shard)];
    limits_ = o_.limits;
    limits_.max_param_payload = max_param_payload(range_.size());
    // Strangers may only send a hello; once admitted, every worker and observer may hold a
    // frame in flight and a recycled buffer. The cap bounds what peers holding the token
    // can make this process buffer, with room to spare for a legitimate job.
    limits_.await_hello = true;
    const std::size_t peers = static_cast<std::size_t>(o_.config.cluster.workers + o_.shards) + 4;
    limits_.budget = std::make_shared<ReceiveBudget>(peers * 2 * limits_.max_param_payload + (std::size_t{64} << 20));
    fingerprint_ = model_fingerprint(spec_);
    workers_.resize(static_cast<std::size_t>(o_.config.cluster.workers));
    // real.trace is validated by the schema (off|on) and only read here, from the resolved config.
    const bool trace = o_.config.resolved["real"]["trace"].as<std::string>("off") == "on";
    logic_ = make_server_logic(o_.config, spec_, range_, trace ? o_.run_dir / "trace" / fmt::format("ps{}.csv", o_.shard) : std::filesystem::path());
    name_ = fmt::format("ps{}", o_.shard);
  }

  int run() {
    if (o_.token.empty()) throw ConfigError("real.token", "empty job token (set real.token or SYNCLAB_TOKEN)");
    resume_from_checkpoint();
    open_outputs();
    listen();
    start_ = Clock::now();
    asio::co_spawn(io_, accept_loop(), asio::detached);
    start_peer_links();
    asio::co_spawn(io_, status_loop(), asio::detached);
    // real.timeout also bounds the wait for the first worker: a PS nobody talks to fails
    // with a reason instead of serving an empty port for ever.
    all_gone_since_ = Clock::now();
    asio::co_spawn(io_, no_worker_watch(), asio::detached);
    if (o_.checkpoint_seconds > 0 && !o_.checkpoint_dir.empty()) asio::co_spawn(io_, checkpoint_loop(), asio::detached);
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

 private:
  // ---- time -------------------------------------------------------------------------
  double now() const { return time_offset_ + std::chrono::duration<double>(Clock::now() - start_).count(); }
  std::uint64_t version() const { return logic_->version(); }

  // ---- outputs ----------------------------------------------------------------------
  void open_outputs() {
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
    no.max_batch = 100;
    no.threads = 1;
    eval_net_ = make_network(spec_, BackendKind::Fast, no);
  }

  void listen() {
    asio::error_code ec;
    const auto addr = asio::ip::make_address(o_.bind, ec);
    if (ec) throw ConfigError("--bind", fmt::format("'{}' is not an IP address", o_.bind));
    tcp::endpoint ep(addr, o_.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep, ec);
    if (ec) throw Error(fmt::format("{}: cannot listen on {}:{}: {}", name_, o_.bind, o_.port, ec.message()));
    acceptor_.listen(64);
    const auto port = acceptor_.local_endpoint().port();
    spdlog::info("{}: pid {} serving range [{}, {}) of {} ({} floats) on {}:{}, policy {}, {} workers, version {}", name_, ::getpid(),
                 range_.begin, range_.end, spec_.name, range_.size(), o_.bind, port, logic_->policy_name(), workers_.size(), version());
    if (!o_.port_file.empty()) write_file_atomic(o_.port_file, fmt::format("{}\n", port));
    if (o_.shard == 0)
      if (const auto warning = local_lr_warning(o_.config.policy.name, worker_policy(), o_.config.train.optimizer))
        spdlog::warn("{}: {}", name_, *warning);
  }

  WorkerPolicy worker_policy() const {
    return make_policy(o_.config.policy, o_.config.cluster.workers).worker;
  }

  // ---- checkpoints ------------------------------------------------------------------
  void resume_from_checkpoint() {
    if (o_.checkpoint_dir.empty()) return;
    CheckpointStore store(o_.checkpoint_dir, o_.shard);
    std::vector<std::string> skipped;
    auto loaded = store.load_newest(&skipped);
    for (const auto& s : skipped) spdlog::warn("{}: skipping checkpoint {}", name_, s);
    if (!loaded && !skipped.empty()) {
      // Starting over at version 0 would discard the run's progress and reset its clock
      // while the run directory still holds the old rows: only when the operator says so.
      std::string names;
      for (const auto& s : skipped) names.append(names.empty() ? "" : "; ").append(s);
      if (!o_.fresh)
        throw Error(fmt::format("{}: no valid checkpoint in {} (rejected {}); to start again at version 0 pass --fresh", name_,
                                o_.checkpoint_dir.string(), names));
      // Set aside, not deleted (they may be worth a look), and out of the way of the new
      // checkpoints, which would otherwise rank below them and be pruned.
      for (const auto& f : store.files()) {
        std::error_code ec;
        std::filesystem::rename(f, std::filesystem::path(f.string() + ".rejected"), ec);
        if (ec) throw Error(fmt::format("{}: cannot set aside {}: {}", name_, f.string(), ec.message()));
      }
      spdlog::warn("{}: --fresh: starting at version 0; the rejected checkpoints are renamed *.rejected ({})", name_, names);
    }
    if (!loaded) return;
    std::istringstream in(std::string(loaded->bytes.begin(), loaded->bytes.end()));
    CheckpointHeader h = read_checkpoint_header(in);
    if (h.fingerprint != fingerprint_ || h.range_begin != range_.begin || h.range_end != range_.end)
      throw Error(fmt::format("{}: checkpoint {} is for another model or shard layout", name_, loaded->file.string()));
    logic_->load(in);
    time_offset_ = h.run_time;
    samples_ = h.samples;
    last_checkpoint_version_ = version();
    spdlog::info("{}: resumed from checkpoint {} (version {}, {:.2f} s into the run)", name_, loaded->file.string(), version(), h.run_time);
  }

  void write_checkpoint() {
    if (o_.checkpoint_dir.empty() || version() == last_checkpoint_version_) return;
    std::ostringstream out;
    CheckpointHeader h{fingerprint_, range_.begin, range_.end, now(), samples_};
    write_checkpoint_header(out, h);
    logic_->save(out);
    const std::string s = out.str();
    CheckpointStore store(o_.checkpoint_dir, o_.shard);
    if (writer_) writer_->flush();
    const auto path = store.write(version(), std::vector<std::uint8_t>(s.begin(), s.end()));
    last_checkpoint_version_ = version();
    spdlog::info("{}: checkpoint {} ({} bytes, version {})", name_, path.filename().string(), s.size(), version());
  }

  // A checkpoint that cannot be written (disk full, file-size limit, I/O error) must not
  // take the pushing worker, the stop condition or the summary with it: it is logged and
  // tried again at the next checkpoint point; after kMaxCheckpointFailures in a row the
  // job ends with that error (it would otherwise run on without the protection asked for).
  bool checkpoint() {
    static constexpr int kMaxCheckpointFailures = 3;
    try {
      write_checkpoint();
      checkpoint_failures_ = 0;
      return true;
    } catch (const std::exception& e) {
      ++checkpoint_failures_;
      last_checkpoint_attempt_ = version();
      spdlog::error("{}: checkpoint at version {} failed ({} in a row): {}", name_, version(), checkpoint_failures_, e.what());
      if (checkpoint_failures_ >= kMaxCheckpointFailures && !stopping_) {
        failure_ = fmt::format("{} checkpoints in a row failed, the last: {}", checkpoint_failures_, e.what());
        spdlog::error("{}: {}", name_, failure_);
        begin_stop("error: " + failure_);
      }
      return false;
    }
  }

  asio::awaitable<void> checkpoint_loop() {
    while (!stopping_) {
      checkpoint_timer_.expires_after(seconds_d(o_.checkpoint_seconds));
      asio::error_code ec;
      co_await checkpoint_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || stopping_) break;
      checkpoint();
    }
  }

  // ---- accepting and handshakes -----------------------------------------------------
  asio::awaitable<void> accept_loop() {
    while (acceptor_.is_open()) {
      asio::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!acceptor_.is_open()) break;
        // A pending connection that cannot get a descriptor stays queued, so retrying at
        // once spins: pause, and log once per interval however often it fails.
        const bool pause = out_of_descriptors(ec);
        std::uint64_t held_back = 0;
        if (accept_log_.allow(&held_back))
          spdlog::warn("{}: accept failed: {}{}{}", name_, ec.message(), pause ? "; pausing new connections (descriptor limit reached?)" : "",
                       held_back ? fmt::format(" ({} more failures since the last line)", held_back) : std::string());
        if (pause) {
          asio::steady_timer t(io_);
          t.expires_after(kAcceptPause);
          co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        continue;
      }
      std::string peer = "peer", address = "?";
      auto remote = socket.remote_endpoint(ec);
      if (!ec) {
        address = remote.address().to_string();
        peer = fmt::format("{}:{}", address, remote.port());
      }
      auto conn = std::make_shared<Connection>(std::move(socket), limits_, peer);
      conn->start();
      asio::co_spawn(io_, session(conn, address), asio::detached);
    }
  }

  void refuse(const std::shared_ptr<Connection>& c, RefuseReason reason, const std::string& detail) {
    spdlog::warn("{}: refused {}: {}: {}", name_, c->peer(), refuse_reason_name(reason), detail);
    c->send(encode(Refuse{reason, detail}));
  }

  // A source address that sent wrong tokens waits for its turn before its hello is judged
  // (whatever the token: an early answer would tell a right guess from a wrong one).
  asio::awaitable<void> wait_token_turn(const std::string& address) {
    auto it = token_failures_.find(address);
    if (it == token_failures_.end() || it->second.failures == 0) co_return;
    // Hellos already waiting count as failures to come: parallel guesses are spaced as
    // if they had been made one after another.
    auto& f = it->second;
    const auto now = Clock::now();
    const auto turn = std::max(now, f.next_try);
    ++f.pending;
    f.next_try = turn + seconds_d(token_delay(f.failures + f.pending));
    if (turn > now) {
      asio::steady_timer t(io_);
      t.expires_at(turn);
      asio::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (auto again = token_failures_.find(address); again != token_failures_.end() && again->second.pending > 0) --again->second.pending;
  }

  void note_token_result(const std::string& address, bool right) {
    if (right) {
      token_failures_.erase(address);
      return;
    }
    auto& f = token_failures_[address];
    ++f.failures;
    f.last_failure = Clock::now();
    f.next_try = std::max(f.next_try, f.last_failure + seconds_d(token_delay(f.failures)));
    if (token_failures_.size() > 4096) forget_token_failures();
  }

  // Bounded memory: old entries go first; past 4096 addresses at once, per-address delays
  // have stopped mattering, and the table starts over rather than grow without end.
  void forget_token_failures() {
    const auto now = Clock::now();
    std::erase_if(token_failures_, [&](const auto& kv) { return now - kv.second.last_failure > kForgetFailuresAfter; });
    if (token_failures_.size() > 4096) token_failures_.clear();
  }

  asio::awaitable<void> session(std::shared_ptr<Connection> c, std::string address) {
    int worker = -1;
    bool admitted = false;
    try {
      Frame f = co_await c->read_frame();
      if (f.header.type != MsgType::Hello) throw ConnectionError(fmt::format("{}: first frame is {}, expected hello", c->peer(), msg_type_name(static_cast<std::uint8_t>(f.header.type))));
      auto hello = decode_hello(f.payload);
      if (!hello) throw ConnectionError(fmt::format("{}: malformed hello", c->peer()));
      const int w = hello->worker;
      const bool observer = hello->role == PeerRole::Observer;
      std::optional<std::pair<RefuseReason, std::string>> why;
      co_await wait_token_turn(address);
      if (!c->open()) co_return;
      const bool token_ok = same_token(hello->token, o_.token);
      note_token_result(address, token_ok);
      if (hello->protocol != kProtocolVersion)
        why = {RefuseReason::BadVersion, fmt::format("peer protocol {}, server protocol {}", hello->protocol, kProtocolVersion)};
      else if (!token_ok)
        why = {RefuseReason::BadToken, fmt::format("job token does not match ({} wrong from {}; next try from there waits {:g} s)",
                                                  token_failures_[address].failures, address, token_delay(token_failures_[address].failures))};
      else if (hello->model_fingerprint != fingerprint_)
        why = {RefuseReason::BadModel, fmt::format("peer model '{}' (fingerprint {:016x}), server model '{}' ({:016x})", hello->model,
                                                  hello->model_fingerprint, spec_.name, fingerprint_)};
      else if (hello->shard != static_cast<std::uint32_t>(o_.shard) || hello->range_begin != range_.begin || hello->range_end != range_.end)
        why = {RefuseReason::BadShard, fmt::format("peer expects shard {} range [{}, {}), this is shard {} range [{}, {})", hello->shard,
                                                  hello->range_begin, hello->range_end, o_.shard, range_.begin, range_.end)};
      else if (!observer && (w < 0 || w >= static_cast<int>(workers_.size())))
        why = {RefuseReason::BadWorker, fmt::format("worker id {} not in [0, {})", w, workers_.size())};
      if (why) {
        std::uint64_t held_back = 0;
        if (why->first != RefuseReason::BadToken) {
          refuse(c, why->first, why->second);
        } else {
          // Anyone can send wrong tokens: logged once per interval.
          if (token_log_.allow(&held_back))
            spdlog::warn("{}: refused {}: {}: {}{}", name_, c->peer(), refuse_reason_name(why->first), why->second,
                         held_back ? fmt::format(" ({} more wrong tokens since the last line)", held_back) : std::string());
          c->send(encode(Refuse{why->first, why->second}));
        }
        co_await c->flush();
        c->close("refused");
        co_return;
      }
      if (stopping_) {
        c->send(encode(Stop{stop_reason_, version()}));
        co_await c->flush();
        c->close("job is stopping");
        co_return;
      }
      if (!observer) {
        worker = w;
        auto& slot = workers_[static_cast<std::size_t>(w)];
        if (slot.conn && slot.conn->open()) {
          spdlog::warn("{}: worker {} reconnected (incarnation {}); dropping its old connection", name_, w, hello->incarnation);
          slot.conn->close("replaced by a newer connection of the same worker");
        }
        if (!first_join_) {
          first_join_ = true;
          arm_start_deadline();
        }
        slot.conn = c;
        all_gone_since_.reset();
        slot.incarnation = hello->incarnation;
        const bool rejoin = slot.ever_joined;
        slot.ever_joined = true;
        slot.lost = false;
        slot.said_bye = false;
        c->set_peer(fmt::format("worker {} ({})", w, c->peer()));
        spdlog::info("{}: worker {} {} from {}", name_, w, rejoin ? "rejoined" : "joined", c->peer());
      }
      c->admit_all();
      admitted = true;
      HelloAck ack;
      ack.shard = static_cast<std::uint32_t>(o_.shard);
      ack.shards = static_cast<std::uint32_t>(o_.shards);
      ack.version = version();
      ack.workers = static_cast<std::int32_t>(workers_.size());
      ack.policy = logic_->policy_name();
      ack.run_time = now();
      c->send(encode(ack));
      if (worker >= 0) execute(logic_->on_worker_joined(worker, now()));

      for (;;) {
        Frame fr = co_await c->read_frame();
        switch (fr.header.type) {
          case MsgType::Heartbeat: break;
          case MsgType::Push: {
            auto push = decode_push(fr, range_.size());
            if (!push || push->values.size() != range_.size() || push->worker != worker)
              throw ConnectionError(fmt::format("{}: malformed push (expected {} floats from worker {})", c->peer(), range_.size(), worker));
            c->recycle(std::move(fr.payload));
            ++workers_[static_cast<std::size_t>(worker)].pushes;
            if (!stopping_) {
              execute(logic_->on_push(std::move(*push), now()));
            }
            break;
          }
          case MsgType::PullRequest: {
            auto pull = decode_pull(fr.payload);
            if (!pull) throw ConnectionError(fmt::format("{}: malformed pull request", c->peer()));
            if (observer) {
              reply_params(c, -1);
            } else if (pull->worker != worker) {
              throw ConnectionError(fmt::format("{}: pull request names worker {}", c->peer(), pull->worker));
            } else if (!started_) {
              std::erase_if(held_pulls_, [&](const PullRequest& h) { return h.worker == worker; });
              held_pulls_.push_back(*pull);
              maybe_start();
            } else if (!stopping_) {
              execute(logic_->on_pull(*pull, now()));
            }
            break;
          }
          case MsgType::Report: {
            auto rep = decode_report(fr.payload);
            if (!rep || rep->worker != worker) throw ConnectionError(fmt::format("{}: malformed report", c->peer()));
            auto& slot = workers_[static_cast<std::size_t>(worker)];
            slot.report = *rep;
            slot.reported = true;
            break;
          }
          case MsgType::Bye: {
            if (observer) {
              spdlog::info("{}: observer {} done", name_, c->peer());
              c->close("observer done");
              if (o_.shard != 0) begin_stop("coordinator done");
              co_return;
            }
            workers_[static_cast<std::size_t>(worker)].said_bye = true;
            spdlog::info("{}: worker {} said bye", name_, worker);
            c->close("bye");
            on_worker_gone(worker, "left");
            co_return;
          }
          case MsgType::Stop: {
            // Shard 0 tells the other shards the job is over.
            auto st = decode_stop(fr.payload);
            begin_stop(st ? st->reason : "stop");
            break;
          }
          default:
            throw ConnectionError(fmt::format("{}: unexpected {} frame", c->peer(), msg_type_name(static_cast<std::uint8_t>(fr.header.type))));
        }
      }
    } catch (const ConnectionError& e) {
      // Strangers can trigger this line at will: a few per interval for them.
      std::uint64_t held_back = 0;
      if (admitted ? (!stopping_ || worker < 0) : stranger_log_.allow(&held_back))
        spdlog::warn("{}: closing connection: {}{}", name_, e.what(),
                     held_back ? fmt::format(" ({} more connections closed before their hello since the last line)", held_back) : std::string());
      c->close(e.what());
    } catch (const std::exception& e) {
      spdlog::error("{}: connection {} failed: {}", name_, c->peer(), e.what());
      c->close(e.what());
    }
    if (worker >= 0 && workers_[static_cast<std::size_t>(worker)].conn == c) on_worker_gone(worker, "lost");
  }

  // Training starts once every worker has asked for parameters (or real.timeout after the
  // first one arrived): process start-up and data loading differ by seconds between
  // workers, and a run should start, as in the simulator, with everyone at time 0.
  void maybe_start(bool deadline = false) {
    if (started_ || stopping_) return;
    if (!deadline && held_pulls_.size() < workers_.size()) return;
    started_ = true;
    start_ = Clock::now();
    if (deadline)
      spdlog::warn("{}: starting with {} of {} workers after waiting {:g} s for the rest", name_, held_pulls_.size(), workers_.size(), o_.lost_grace);
    else
      spdlog::info("{}: all {} workers ready; training starts", name_, workers_.size());
    auto pulls = std::move(held_pulls_);
    held_pulls_.clear();
    for (const auto& p : pulls) {
      const auto& slot = workers_[static_cast<std::size_t>(p.worker)];
      if (slot.conn && slot.conn->open() && !stopping_) execute(logic_->on_pull(p, now()));
    }
  }

  void arm_start_deadline() {
    start_timer_.expires_after(seconds_d(o_.lost_grace));
    start_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) maybe_start(true);
    });
  }

  void on_worker_gone(int w, const char* how) {
    auto& slot = workers_[static_cast<std::size_t>(w)];
    if (slot.lost) return;
    slot.lost = true;
    if (stopping_) {
      maybe_finish();
      return;
    }
    spdlog::warn("{}: worker {} {} ({}); the policy decides", name_, w, how, slot.conn ? slot.conn->close_reason() : "");
    execute(logic_->on_worker_lost(w, now()));
    if (connected_workers() == 0 && !all_gone_since_) {
      all_gone_since_ = Clock::now();
      spdlog::warn("{}: no worker connected; waiting up to {:g} s for one to (re)join", name_, o_.lost_grace);
    }
  }

  int connected_workers() const {
    int n = 0;
    for (const auto& s : workers_) n += (s.conn && s.conn->open() && !s.lost) ? 1 : 0;
    return n;
  }

  // ---- executing policy decisions ---------------------------------------------------
  void execute(ShardDecisions&& d) {
    for (const auto& line : d.log) spdlog::info("{}: policy: {}", name_, line);
    if (!d.fatal.empty()) {
      spdlog::error("{}: the policy cannot continue: {}", name_, d.fatal);
      failure_ = d.fatal;
      begin_stop("error: " + d.fatal);
      return;
    }
    const double t = now();
    for (const auto& a : d.applied) samples_ += a.samples;  // applied gradients only
    if (writer_)
      for (const auto& a : d.applied) {
        writer_->update(t, a.update, a.worker, a.staleness, a.loss);
        if (!std::isfinite(a.loss) && failure_.empty()) {
          failure_ = fmt::format("diverged: the training loss of worker {} became {} at update {}; lower train.optimizer.lr",
                                 a.worker, a.loss, a.update);
          spdlog::error("{}: {}", name_, failure_);
          begin_stop("diverged");
        }
      }
    if (d.new_updates > 0) {
      all_gone_since_.reset();
      after_update();
    }
    for (const auto& timer : d.timers) schedule_timer(timer);
    if (stopping_) return;
    for (int w : d.cancels) {
      auto& slot = workers_[static_cast<std::size_t>(w)];
      if (slot.conn && slot.conn->open()) slot.conn->send(encode(Cancel{slot.pushes}));
    }
    for (const auto& r : d.replies) {
      auto& slot = workers_[static_cast<std::size_t>(r.worker)];
      if (slot.conn && slot.conn->open()) send_snapshot(slot.conn, r);
    }
    if (!d.stop.empty()) begin_stop(d.stop);
  }

  // Observers (shard 0 gathering other shards) get a private copy of the current params.
  void reply_params(const std::shared_ptr<Connection>& c, std::int32_t tau_hint) {
    const auto p = logic_->params();
    send_snapshot(c, ParamsToSend{-1, version(), std::make_shared<const std::vector<float>>(p.begin(), p.end()), tau_hint});
  }

  // The crc of a snapshot is computed once however many workers receive it.
  void send_snapshot(const std::shared_ptr<Connection>& c, const ParamsToSend& r) {
    if (snapshot_params_ != r.params) {
      snapshot_params_ = r.params;
      snapshot_crc_ = floats_crc(*r.params);
    }
    ParamsReply meta;
    meta.version = r.version;
    meta.tau_hint = r.tau_hint;
    c->send(encode_params(meta, *r.params, snapshot_crc_), r.params);
  }

  void after_update() {
    const auto v = version();
    const auto& tc = o_.config.train;
    if (writer_ && tc.eval_every && v / tc.eval_every > last_eval_bucket_) {
      last_eval_bucket_ = v / tc.eval_every;
      schedule_eval(v);
    }
    if (tc.stop_updates && v >= tc.stop_updates) begin_stop("updates");
    else if (tc.stop_time > 0 && now() >= tc.stop_time) begin_stop("time");
    // (A stopping shard writes its final checkpoint in finish().)
    if (!stopping_ && o_.checkpoint_every && v >= std::max(last_checkpoint_version_, last_checkpoint_attempt_) + o_.checkpoint_every) checkpoint();
  }

  void schedule_timer(const TimerRequest& r) {
    auto timer = std::make_shared<asio::steady_timer>(io_);
    timer->expires_after(seconds_d(std::max(0.0, r.at - now())));
    timer->async_wait([this, timer, id = r.id](const asio::error_code& ec) {
      if (ec || stopping_) return;
      execute(logic_->on_timer(id, now()));
    });
  }

  // ---- evaluation (shard 0, on its own thread so the server keeps serving) ----------
  void schedule_eval(std::uint64_t v) {
    if (!writer_) return;
    if (o_.shards > 1) return gather_for_eval(v);
    const auto p = logic_->params();
    ++evals_in_flight_;
    run_eval(std::make_shared<std::vector<float>>(p.begin(), p.end()), v, now(), samples_);
  }

  // Evaluates a full parameter buffer on the helper thread; evals_in_flight_ was raised.
  void run_eval(std::shared_ptr<std::vector<float>> full, std::uint64_t v, double t, std::uint64_t samples) {
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

  // ---- the other shards, seen from shard 0 (evaluations need the whole model) ---------
  struct PeerLink {
    Endpoint endpoint;
    Range range;
    std::shared_ptr<Connection> conn;
  };
  struct Gather {
    std::uint64_t version = 0, samples = 0;
    double time = 0;
    std::shared_ptr<std::vector<float>> full;
    int missing = 0;
  };

  // Several shards: shard 0 asks every other shard (as an observer) for its range, joins
  // them with its own and evaluates that. One gather at a time; versions of async shards
  // may differ by a few updates, as they would for any reader of a sharded PS.
  void gather_for_eval(std::uint64_t v) {
    if (gather_) return;
    for (std::size_t s = 1; s < peers_.size(); ++s)
      if (!peers_[s].conn || !peers_[s].conn->open()) {
        spdlog::info("{}: evaluation of version {} skipped: ps{} not connected", name_, v, s);
        return;
      }
    if (peers_.size() < static_cast<std::size_t>(o_.shards)) return;
    Gather g;
    g.version = v;
    g.time = now();
    g.samples = samples_;
    g.full = std::make_shared<std::vector<float>>(spec_.num_params());
    const auto own = logic_->params();
    std::copy(own.begin(), own.end(), g.full->begin() + static_cast<std::ptrdiff_t>(range_.begin));
    g.missing = o_.shards - 1;
    gather_ = std::move(g);
    ++evals_in_flight_;
    for (std::size_t s = 1; s < peers_.size(); ++s) peers_[s].conn->send(encode(PullRequest{-1, 0, 0}));
  }

  void on_peer_params(std::size_t s, ParamsReply&& r) {
    if (!gather_ || r.values.size() != peers_[s].range.size()) return;
    std::copy(r.values.begin(), r.values.end(), gather_->full->begin() + static_cast<std::ptrdiff_t>(peers_[s].range.begin));
    if (--gather_->missing > 0) return;
    Gather g = std::move(*gather_);
    gather_.reset();
    run_eval(g.full, g.version, g.time, g.samples);
  }

  asio::awaitable<void> connect_peer(std::size_t s) {
    auto& p = peers_[s];
    const auto deadline = Clock::now() + seconds_d(o_.lost_grace);
    double backoff = 0.1;
    asio::steady_timer wait(io_);
    while (!finished_) {
      try {
        tcp::resolver resolver(io_);
        auto eps = co_await resolver.async_resolve(p.endpoint.host, std::to_string(p.endpoint.port), asio::use_awaitable);
        tcp::socket sock(io_);
        co_await asio::async_connect(sock, eps, asio::use_awaitable);
        ConnectionLimits l = limits_;
        l.max_param_payload = max_param_payload(p.range.size());
        // We dialled this shard ourselves: its first frame is a HelloAck, not a stranger's
        // hello, so the pre-admission rule (hello only) does not apply to this link.
        l.await_hello = false;
        auto conn = std::make_shared<Connection>(std::move(sock), l, fmt::format("ps{} ({})", s, p.endpoint.str()));
        conn->start();
        Hello h;
        h.model_fingerprint = fingerprint_;
        h.model = spec_.name;
        h.token = o_.token;
        h.role = PeerRole::Observer;
        h.shard = static_cast<std::uint32_t>(s);
        h.range_begin = p.range.begin;
        h.range_end = p.range.end;
        conn->send(encode(h));
        Frame f = co_await conn->read_frame();
        if (f.header.type != MsgType::HelloAck) {
          auto r = f.header.type == MsgType::Refuse ? decode_refuse(f.payload) : std::nullopt;
          spdlog::error("{}: ps{} refused the evaluation link: {}", name_, s, r ? r->message : msg_type_name(static_cast<std::uint8_t>(f.header.type)));
          co_return;
        }
        p.conn = conn;
        spdlog::info("{}: connected to ps{} at {} for evaluations", name_, s, p.endpoint.str());
        bool all = true;
        for (std::size_t o = 1; o < peers_.size(); ++o) all = all && peers_[o].conn;
        if (all && version() == 0 && !first_eval_done_) {
          first_eval_done_ = true;
          gather_for_eval(0);
        }
        for (;;) {
          Frame fr = co_await conn->read_frame();
          if (fr.header.type == MsgType::Params) {
            auto r = decode_params(fr, p.range.size());
            if (r) on_peer_params(s, std::move(*r));
          }
        }
      } catch (const std::exception& e) {
        if (finished_) co_return;
        if (p.conn) {
          spdlog::warn("{}: lost the evaluation link to ps{}: {}", name_, s, e.what());
          p.conn.reset();
        }
        if (gather_) {  // that gather cannot complete any more
          gather_.reset();
          --evals_in_flight_;
          maybe_finish();
        }
        if (Clock::now() > deadline) {
          spdlog::warn("{}: giving up on ps{} for evaluations: {}", name_, s, e.what());
          co_return;
        }
      }
      wait.expires_after(seconds_d(backoff));
      backoff = std::min(2 * backoff, 2.0);
      asio::error_code ec;
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  void start_peer_links() {
    if (o_.shard != 0 || o_.shards < 2) return;
    if (o_.peers.size() != static_cast<std::size_t>(o_.shards - 1)) {
      spdlog::warn("{}: no addresses of the other {} shard(s) (--peers / --ps_hosts): evaluations only at the end", name_, o_.shards - 1);
      return;
    }
    const auto ranges = shard_ranges(spec_.num_params(), o_.shards);
    peers_.resize(static_cast<std::size_t>(o_.shards));
    for (std::size_t s = 1; s < peers_.size(); ++s) {
      peers_[s].endpoint = o_.peers[s - 1];
      peers_[s].range = ranges[s];
      asio::co_spawn(io_, connect_peer(s), asio::detached);
    }
  }

  // Tells the other shards the job is over (they finish on it), then stops the loop.
  asio::awaitable<void> release_peers_and_stop() {
    for (std::size_t s = 1; s < peers_.size(); ++s)
      if (peers_[s].conn && peers_[s].conn->open()) peers_[s].conn->send(encode(Bye{-1}));
    for (std::size_t s = 1; s < peers_.size(); ++s)
      if (peers_[s].conn && peers_[s].conn->open()) co_await peers_[s].conn->flush();
    io_.stop();
  }

  // ---- stopping ---------------------------------------------------------------------
  void begin_stop(const std::string& reason) {
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
      std::vector<int> missing;
      for (std::size_t w = 0; w < workers_.size(); ++w)
        if (workers_[w].conn && workers_[w].conn->open()) missing.push_back(static_cast<int>(w));
      spdlog::warn("{}: gave up waiting {:g} s for {} worker(s) to say bye", name_, o_.final_wait, missing.size());
      shutdown();
    });
    maybe_finish();
  }

  void maybe_finish() {
    if (!stopping_ || finished_) return;
    for (const auto& s : workers_)
      if (s.conn && s.conn->open()) return;
    if (evals_in_flight_ > 0) return;
    shutdown();
  }

  void shutdown() {
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
    if (peers_.empty()) {
      io_.stop();
    } else {
      asio::co_spawn(io_, release_peers_and_stop(), asio::detached);
    }
  }

  asio::awaitable<void> status_loop() {
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
  asio::awaitable<void> no_worker_watch() {
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
      failure_ = first_join_ ? fmt::format("no worker connected for {:g} s (real.timeout)", grace)
                             : fmt::format("no worker connected within {:g} s of the start", grace);
      spdlog::error("{}: {}", name_, failure_);
      begin_stop("error: " + failure_);
    }
  }

  void finish() {
    checkpoint();
    if (!failure_.empty()) exit_code_ = 3;
    const auto p = logic_->params();
    try {
      write_shard_params(o_.run_dir, o_.shard, range_, p);
    } catch (const std::exception& e) {
      // On a full disk the summary (small) may still fit: it says what was lost.
      spdlog::error("{}: cannot write the final parameters: {}", name_, e.what());
      if (failure_.empty()) failure_ = fmt::format("cannot write the final parameters: {}", e.what());
      exit_code_ = 3;
    }
    if (!writer_) return;
    TestResult final_eval = last_eval_;
    if (o_.shards == 1) final_eval = evaluate_dataset(*eval_net_, p, *test_, 0);
    RunSummary s;
    s.backend = "real";
    s.policy = logic_->policy_name();
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
      bytes += r.bytes_sent;
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
    s.bytes_sent = bytes + ps_bytes_sent();
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
    if (const auto wp = worker_policy(); wp.payload == synclab::PayloadKind::ModelDelta)
      s.extra["local_lr"] = local_step_lr(wp, o_.config.train.optimizer);
    writer_->finish(s);
    spdlog::info("{}: run directory {} written (final accuracy {:.4f})", name_, o_.run_dir.string(), s.final_test_accuracy);
  }

  std::uint64_t ps_bytes_sent() const {
    std::uint64_t b = 0;
    for (const auto& s : workers_)
      if (s.conn) b += s.conn->bytes_sent();
    return b;
  }

  PsOptions o_;
  ModelSpec spec_;
  Range range_;
  ConnectionLimits limits_;
  std::uint64_t fingerprint_ = 0;
  std::string name_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer status_timer_, start_timer_, checkpoint_timer_, stop_timer_;
  asio::thread_pool eval_pool_;
  std::unique_ptr<ServerLogic> logic_;
  std::vector<WorkerSlot> workers_;
  std::shared_ptr<const std::vector<float>> snapshot_params_;
  std::uint32_t snapshot_crc_ = 0;
  std::unique_ptr<RunWriter> writer_;
  std::unique_ptr<Dataset> test_;
  std::unique_ptr<Network> eval_net_;
  TestResult last_eval_{};
  std::uint64_t last_eval_bucket_ = 0, last_checkpoint_version_ = 0, last_checkpoint_attempt_ = 0, samples_ = 0;
  int checkpoint_failures_ = 0;
  int evals_in_flight_ = 0;
  Clock::time_point start_ = Clock::now();
  double time_offset_ = 0, stop_time_ = 0;
  std::optional<Clock::time_point> all_gone_since_;
  bool stopping_ = false, finished_ = false, first_join_ = false, started_ = false;
  std::vector<PullRequest> held_pulls_;
  std::vector<PeerLink> peers_;
  std::optional<Gather> gather_;
  bool first_eval_done_ = false;
  std::string stop_reason_, failure_;
  int exit_code_ = 0;
  pid_t parent_ = ::getppid();
  std::map<std::string, TokenFailures> token_failures_;  // by source address
  // Accept errors and wrong tokens: one line per interval. Strangers' protocol errors: a
  // few, so that different attacks in the same seconds each leave a line.
  LogLimiter accept_log_{kLogInterval}, token_log_{kLogInterval}, stranger_log_{kLogInterval, 5};
};

}  // namespace

int run_ps(const PsOptions& options) {
  // Under a file-size limit a write beyond it would kill the process (SIGXFSZ); ignored,
  // it fails with EFBIG and is reported with the file's name like any full disk.
  ::signal(SIGXFSZ, SIG_IGN);
  Shard shard(options);
  return shard.run();
}

}  // namespace synclab::real
