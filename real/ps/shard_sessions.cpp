// The shard's connections: accepting, judging each hello (hello_check.hpp), the messages
// of an admitted worker or observer, the start barrier, and workers leaving.
#include <cerrno>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "real/ps/shard.hpp"

namespace synclab::real {
namespace {

using asio::ip::tcp;

// A descriptor shortage (EMFILE/ENFILE) does not clear by retrying at once: pause accepting.
constexpr auto kAcceptPause = std::chrono::milliseconds(500);

bool out_of_descriptors(const asio::error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

std::string type_name(const Frame& f) { return msg_type_name(static_cast<std::uint8_t>(f.header.type)); }

}  // namespace

asio::awaitable<void> Shard::accept_loop() {
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

// Judges a hello; true when the peer is admitted (a refusal or a stop was sent otherwise,
// and the connection closed). A source address that sent wrong tokens first waits for its
// turn, whatever the token: an early answer would tell a right guess from a wrong one.
asio::awaitable<bool> Shard::admit(const std::shared_ptr<Connection>& c, const Hello& hello, const std::string& address) {
  const auto turn = tokens_.turn(address, Clock::now());
  if (turn > Clock::now()) {
    asio::steady_timer t(io_);
    t.expires_at(turn);
    asio::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  tokens_.done_waiting(address);
  if (!c->open()) co_return false;
  HelloVerdict verdict = check_hello(hello, identity_);
  tokens_.note(address, verdict.token_ok, Clock::now());
  if (verdict.refusal) {
    Refusal& r = *verdict.refusal;
    if (r.reason != RefuseReason::BadToken) {
      spdlog::warn("{}: refused {}: {}: {}", name_, c->peer(), refuse_reason_name(r.reason), r.detail);
    } else {
      const int failures = tokens_.failures(address);
      r.detail += fmt::format(" ({} wrong from {}; next try from there waits {:g} s)", failures, address, TokenThrottle::delay(failures));
      // Anyone can send wrong tokens: logged once per interval.
      std::uint64_t held_back = 0;
      if (token_log_.allow(&held_back))
        spdlog::warn("{}: refused {}: {}: {}{}", name_, c->peer(), refuse_reason_name(r.reason), r.detail,
                     held_back ? fmt::format(" ({} more wrong tokens since the last line)", held_back) : std::string());
    }
    c->send(encode(Refuse{r.reason, r.detail}));
    co_await c->flush();
    c->close("refused");
    co_return false;
  }
  if (stopping()) {
    c->send(encode(Stop{stop_message_, version()}));
    co_await c->flush();
    c->close("job is stopping");
    co_return false;
  }
  co_return true;
}

void Shard::join_worker(const std::shared_ptr<Connection>& c, const Hello& hello) {
  const int w = hello.worker;
  auto& slot = workers_[static_cast<std::size_t>(w)];
  if (slot.conn && slot.conn->open()) {
    spdlog::warn("{}: worker {} reconnected (incarnation {}); dropping its old connection", name_, w, hello.incarnation);
    slot.conn->close("replaced by a newer connection of the same worker");
  }
  if (!first_join_) {
    first_join_ = true;
    arm_start_deadline();
  }
  slot.conn = c;
  all_gone_since_.reset();
  if (hello.incarnation != slot.incarnation) slot.push_receive_s = 0;  // a new process: its report starts over too
  slot.incarnation = hello.incarnation;
  const bool rejoin = slot.ever_joined;
  slot.ever_joined = true;
  slot.lost = false;
  slot.said_bye = false;
  c->set_peer(fmt::format("worker {} ({})", w, c->peer()));
  spdlog::info("{}: worker {} {} from {}", name_, w, rejoin ? "rejoined" : "joined", c->peer());
}

asio::awaitable<void> Shard::session(std::shared_ptr<Connection> c, std::string address) {
  int worker = -1;
  bool admitted = false;
  try {
    Frame f = co_await c->read_frame();
    if (f.header.type != MsgType::Hello) throw ConnectionError(fmt::format("{}: first frame is {}, expected hello", c->peer(), type_name(f)));
    auto hello = decode_hello(f.payload);
    if (!hello) throw ConnectionError(fmt::format("{}: malformed hello", c->peer()));
    if (!co_await admit(c, *hello, address)) co_return;
    const bool observer = hello->role == PeerRole::Observer;
    if (!observer) {
      worker = hello->worker;
      join_worker(c, *hello);
    }
    c->admit_all();
    admitted = true;
    HelloAck ack;
    ack.shard = static_cast<std::uint32_t>(o_.shard);
    ack.shards = static_cast<std::uint32_t>(o_.shards);
    ack.version = version();
    ack.workers = static_cast<std::int32_t>(workers_.size());
    ack.policy = core_->policy().name();
    ack.run_time = now();
    c->send(encode(ack));
    if (worker >= 0) on_worker_joined(worker);
    for (bool done = false; !done;) {
      Frame fr = co_await c->read_frame();
      on_frame(c, fr, worker, observer, &done);
    }
    co_return;
  } catch (const ConnectionError& e) {
    // Strangers can trigger this line at will: a few per interval for them.
    std::uint64_t held_back = 0;
    if (admitted ? (!stopping() || worker < 0) : stranger_log_.allow(&held_back))
      spdlog::warn("{}: closing connection: {}{}", name_, e.what(),
                   held_back ? fmt::format(" ({} more connections closed before their hello since the last line)", held_back) : std::string());
    c->close(e.what());
  } catch (const std::exception& e) {
    spdlog::error("{}: connection {} failed: {}", name_, c->peer(), e.what());
    c->close(e.what());
  }
  if (worker >= 0 && workers_[static_cast<std::size_t>(worker)].conn == c) on_worker_gone(worker, "lost");
}

// One message of an admitted peer; sets *done when the peer said bye. Throws
// ConnectionError for a malformed or unexpected message (that connection closes).
void Shard::on_frame(const std::shared_ptr<Connection>& c, Frame& fr, int worker, bool observer, bool* done) {
  switch (fr.header.type) {
    case MsgType::Heartbeat: return;
    case MsgType::Push: {
      auto push = decode_push(fr, range_.size());
      if (!push || push->values.size() != range_.size() || push->worker != worker)
        throw ConnectionError(fmt::format("{}: malformed push (expected {} floats from worker {})", c->peer(), range_.size(), worker));
      c->recycle(std::move(fr.payload));
      auto& slot = workers_[static_cast<std::size_t>(worker)];
      ++slot.pushes;
      slot.push_receive_s += std::chrono::duration<double>(Clock::now() - c->last_frame_started()).count();
      if (!stopping()) on_push(std::move(*push));
      return;
    }
    case MsgType::PullRequest: {
      auto pull = decode_pull(fr.payload);
      if (!pull) throw ConnectionError(fmt::format("{}: malformed pull request", c->peer()));
      if (observer) return reply_params(c);
      if (pull->worker != worker) throw ConnectionError(fmt::format("{}: pull request names worker {}", c->peer(), pull->worker));
      if (!started_) return hold_pull(*pull);
      if (!stopping()) on_pull(*pull);
      return;
    }
    case MsgType::Report: {
      auto rep = decode_report(fr.payload);
      if (!rep || rep->worker != worker) throw ConnectionError(fmt::format("{}: malformed report", c->peer()));
      auto& slot = workers_[static_cast<std::size_t>(worker)];
      slot.report = *rep;
      slot.reported = true;
      return;
    }
    case MsgType::Bye: {
      *done = true;
      if (observer) {
        spdlog::info("{}: observer {} done", name_, c->peer());
        c->close("observer done");
        if (o_.shard != 0) stop("coordinator done");
        return;
      }
      workers_[static_cast<std::size_t>(worker)].said_bye = true;
      spdlog::info("{}: worker {} said bye", name_, worker);
      c->close("bye");
      on_worker_gone(worker, "left");
      return;
    }
    case MsgType::Stop: {
      // Shard 0 tells the other shards the job is over.
      auto st = decode_stop(fr.payload);
      stop(st ? st->reason : "stop");
      return;
    }
    default: throw ConnectionError(fmt::format("{}: unexpected {} frame", c->peer(), type_name(fr)));
  }
}

// Training starts once every worker has asked for parameters (or real.timeout after the
// first one arrived): process start-up and data loading differ by seconds between
// workers, and a run should start, as in the simulator, with everyone at time 0.
void Shard::hold_pull(const PullRequest& pull) {
  std::erase_if(held_pulls_, [&](const PullRequest& h) { return h.worker == pull.worker; });
  held_pulls_.push_back(pull);
  maybe_start();
}

void Shard::maybe_start(bool deadline) {
  if (started_ || stopping()) return;
  if (!deadline && held_pulls_.size() < workers_.size()) return;
  started_ = true;
  start_ = Clock::now();
  if (monitor_->deadline()) asio::co_spawn(io_, deadline_watch(), asio::detached);
  if (deadline)
    spdlog::warn("{}: starting with {} of {} workers after waiting {:g} s for the rest", name_, held_pulls_.size(), workers_.size(), o_.lost_grace);
  else
    spdlog::info("{}: all {} workers ready; training starts", name_, workers_.size());
  auto pulls = std::move(held_pulls_);
  held_pulls_.clear();
  for (const auto& p : pulls) {
    const auto& slot = workers_[static_cast<std::size_t>(p.worker)];
    if (slot.conn && slot.conn->open() && !stopping()) on_pull(p);
  }
}

void Shard::arm_start_deadline() {
  start_timer_.expires_after(seconds_d(o_.lost_grace));
  start_timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) maybe_start(true);
  });
}

void Shard::on_worker_gone(int w, const char* how) {
  auto& slot = workers_[static_cast<std::size_t>(w)];
  if (slot.lost) return;
  slot.lost = true;
  if (stopping()) {
    maybe_finish();
    return;
  }
  spdlog::warn("{}: worker {} {} ({}); the policy decides", name_, w, how, slot.conn ? slot.conn->close_reason() : "");
  on_worker_lost(w);
  if (connected_workers() == 0 && !all_gone_since_) {
    all_gone_since_ = Clock::now();
    spdlog::warn("{}: no worker connected; waiting up to {:g} s for one to (re)join", name_, o_.lost_grace);
  }
}

int Shard::connected_workers() const {
  int n = 0;
  for (const auto& s : workers_) n += (s.conn && s.conn->open() && !s.lost) ? 1 : 0;
  return n;
}

// Observers (shard 0 gathering other shards) get a private copy of the current params.
void Shard::reply_params(const std::shared_ptr<Connection>& c) {
  const auto p = core_->params();
  send_snapshot(c, PullReply{-1, version(), std::make_shared<const std::vector<float>>(p.begin(), p.end()), std::nullopt});
}

// The crc of a snapshot is computed once however many workers receive it.
void Shard::send_snapshot(const std::shared_ptr<Connection>& c, const PullReply& r) {
  if (snapshot_params_ != r.params) {
    snapshot_params_ = r.params;
    snapshot_crc_ = floats_crc(*r.params);
  }
  ParamsReply meta;
  meta.version = r.version;
  meta.tau_hint = r.local_steps ? *r.local_steps : -1;
  c->send(encode_params(meta, *r.params, snapshot_crc_), r.params);
}

}  // namespace synclab::real
