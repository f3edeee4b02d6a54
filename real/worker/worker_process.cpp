#include "real/worker/worker_process.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "policies/shard_set.hpp"
#include "real/protocol/fingerprint.hpp"
#include "core/cost/step_emulation.hpp"
#include "real/worker/worker_setup.hpp"

namespace synclab::real {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A refusal is final (no retry): wrong token, version or model will not fix itself.
class RefusedError : public Error {
 public:
  using Error::Error;
};

struct ShardLink {
  int index = 0;
  Endpoint endpoint;
  Range range;
  std::shared_ptr<Connection> conn;
  std::uint32_t incarnation = 0;
  bool down = true;
  std::optional<ParamsReply> reply;
  Clock::time_point first_byte{};  // when the first bytes of the last params frame arrived
  std::string down_reason;
};

// WorkerCore's blocking transport. The io_context runs only inside these calls (single
// thread): while the core computes, incoming bytes wait in the kernel.
class TcpDriver final : public WorkerDriver {
 public:
  TcpDriver(const WorkerOptions& o, const ModelSpec& spec, double step_flops) : o_(o), emulation_(o.config, o.worker), step_flops_(step_flops) {
    if (emulation_.active())
      spdlog::info("worker {}: emulating a slower node (compute x{:g}, straggler {} mean {:g} s)", o.worker, emulation_.slowdown(),
                   o.config.cluster.straggler.dist, o.config.cluster.straggler.mean);
    fingerprint_ = model_fingerprint(spec);
    model_ = spec.name;
    const auto ranges = shard_ranges(spec.num_params(), static_cast<int>(o.ps.size()));
    for (std::size_t s = 0; s < o.ps.size(); ++s) links_.push_back(ShardLink{static_cast<int>(s), o.ps[s], ranges[s], nullptr, 0, true, {}, {}, {}});
    start_ = Clock::now();
  }

  void connect_all() {
    for (auto& l : links_) connect(l);
  }

  double now() override { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  std::optional<PulledParams> pull(const PullInfo& p, std::span<float> params) override {
    clock_ = p.worker_clock;
    for (auto& l : links_) {
      l.reply.reset();
      send_pull(l);
    }
    auto last_log = Clock::now();
    for (;;) {
      if (stopped_) return std::nullopt;
      bool all = true;
      for (auto& l : links_) {
        if (l.down) {
          // A shard went away (restart): reconnect and ask again.
          if (!connect(l)) return std::nullopt;
          send_pull(l);
        }
        all = all && l.reply.has_value();
      }
      if (all) break;
      run_one_for(std::chrono::milliseconds(200));
      if (Clock::now() - last_log > std::chrono::seconds(10)) {
        last_log = Clock::now();
        std::string waiting;
        for (auto& l : links_)
          if (!l.reply) waiting += fmt::format(" ps{}", l.index);
        spdlog::info("worker {}: still waiting for parameters from{} (clock {})", o_.worker, waiting, clock_);
      }
    }
    // Receiving the parameters counts as communication, from the last reply's first byte
    // until all are in and copied; the rest of the pull is waiting (for the push to arrive,
    // for the server to reply, e.g. at a synchronous barrier). The simulator counts alike.
    Clock::time_point receiving_from{};
    for (auto& l : links_) receiving_from = std::max(receiving_from, l.first_byte);
    PullJoin join;  // the same join as every driver's (docs/run-directory.md)
    for (auto& l : links_) {
      auto& r = *l.reply;
      if (r.values.size() != l.range.size())
        throw Error(fmt::format("ps{} sent {} floats for a range of {}", l.index, r.values.size(), l.range.size()));
      std::memcpy(params.data() + l.range.begin, r.values.data(), r.values.size() * sizeof(float));
      join.add(r.version, r.tau_hint >= 0 ? std::optional<int>(r.tau_hint) : std::nullopt);
      if (l.conn) l.conn->recycle(std::move(r.values));  // the next reply lands in the same buffer
    }
    const PulledParams out = join.result();
    compute_from_ = Clock::now();
    receive_s_ += std::chrono::duration<double>(compute_from_ - receiving_from).count();
    return out;
  }

  // The math ran between the end of pull() and this call; an emulated slow or noisy node
  // then waits out the rest of its step, serving its connections meanwhile.
  void compute(double flops) override {
    if (!emulation_.active()) return;
    const double measured = std::chrono::duration<double>(Clock::now() - compute_from_).count();
    const int local = step_flops_ > 0 ? std::max(1, static_cast<int>(std::lround(flops / step_flops_))) : 1;
    const double pad = emulation_.pad(measured, local, now());
    const auto until = Clock::now() + seconds_d(pad);
    while (Clock::now() < until && !stopped_ && !(cancel_clock_ && *cancel_clock_ == clock_))
      if (run_one_until(until) == 0) std::this_thread::sleep_until(until);
  }

  void push(const PushInfo& info, std::span<const float> payload) override {
    Push meta;
    meta.worker = o_.worker;
    meta.base_version = info.base_version;
    meta.clock = info.worker_clock;
    meta.loss = static_cast<float>(info.loss);
    meta.kind = info.kind;
    meta.steps = static_cast<std::uint32_t>(info.local_steps);
    for (auto& l : links_) {
      if (l.down || !l.conn) continue;  // lost with the shard; the next pull reconnects
      // The payload stays valid until the core's next compute(), which comes after the next
      // pull's replies; a reply on the same connection implies the push was read.
      l.conn->send(encode_push(meta, payload.subspan(l.range.begin, l.range.size())));
    }
    poll();
  }

  bool cancelled() override {
    poll();
    if (cancel_clock_ && *cancel_clock_ == clock_) {
      cancel_clock_.reset();
      return true;
    }
    return false;
  }

  // Final report to shard 0 and a goodbye to every shard, bounded in time.
  void finish(const WorkerStats& stats, const std::string& device) {
    WorkerReport rep;
    rep.worker = o_.worker;
    rep.compute_s = stats.compute_s;
    rep.wait_s = std::max(0.0, stats.wait_s - receive_s_);
    rep.communicate_s = stats.push_s + std::min(receive_s_, stats.wait_s);
    rep.steps = stats.samples / std::max<std::size_t>(1, o_.config.data.batch);
    rep.pushes = stats.pushes;
    rep.cancelled = stats.cancelled;
    rep.samples = stats.samples;
    rep.device = device;
    for (auto& l : links_)
      if (l.conn) {
        rep.bytes_sent += l.conn->bytes_sent();
        rep.bytes_received += l.conn->bytes_received();
      }
    for (auto& l : links_) {
      if (l.down || !l.conn) continue;
      if (l.index == 0) l.conn->send(encode(rep));
      l.conn->send(encode(Bye{o_.worker}));
    }
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < until) {
      bool busy = false;
      for (auto& l : links_) busy = busy || (l.conn && l.conn->open() && !l.down);
      if (!busy) break;
      run_one_for(std::chrono::milliseconds(50));
    }
    for (auto& l : links_)
      if (l.conn) l.conn->close("worker done");
  }

  bool stopped() const { return stopped_; }
  const std::string& stop_reason() const { return stop_reason_; }

 private:
  // The io_context runs only inside these calls. Once it has run out of work (every
  // connection closed), it is stopped and would return at once from then on: a loop
  // waiting on a new connection would spin without ever reading it. Restart it first.
  std::size_t run_one_for(std::chrono::milliseconds d) {
    if (io_.stopped()) io_.restart();
    return io_.run_one_for(d);
  }
  std::size_t run_one_until(Clock::time_point t) {
    if (io_.stopped()) io_.restart();
    return io_.run_one_until(t);
  }
  void poll() {
    if (io_.stopped()) io_.restart();
    io_.poll();
  }

  void send_pull(ShardLink& l) {
    if (!l.down && l.conn) l.conn->send(encode(PullRequest{o_.worker, clock_}));
  }

  // Connects with exponential backoff (0.1 s doubling to 2 s) for at most reconnect_timeout
  // seconds in total, each failure logged; a refusal is final.
  bool connect(ShardLink& l) {
    const auto deadline = Clock::now() + seconds_d(o_.reconnect_timeout);
    double backoff = 0.1;
    for (int attempt = 1;; ++attempt) {
      try {
        handshake(l);
        return !stopped_;
      } catch (const RefusedError&) {
        throw;
      } catch (const std::exception& e) {
        if (stopped_) return false;
        if (Clock::now() + seconds_d(backoff) > deadline)
          throw Error(fmt::format("ps{} at {} unreachable for {:g} s (last error: {})", l.index, l.endpoint.str(), o_.reconnect_timeout, e.what()));
        spdlog::warn("worker {}: connecting to ps{} at {} failed (attempt {}: {}); retrying in {:.1f} s", o_.worker, l.index,
                     l.endpoint.str(), attempt, e.what(), backoff);
        std::this_thread::sleep_for(seconds_d(backoff));
        backoff = std::min(backoff * 2, 2.0);
      }
    }
  }

  void handshake(ShardLink& l) {
    if (l.conn) l.conn->close("reconnecting");
    tcp::resolver resolver(io_);
    tcp::socket socket(io_);
    asio::error_code ec;
    auto endpoints = resolver.resolve(l.endpoint.host, std::to_string(l.endpoint.port), ec);
    if (ec) throw Error(fmt::format("cannot resolve {}: {}", l.endpoint.host, ec.message()));
    asio::connect(socket, endpoints, ec);
    if (ec) throw Error(ec.message());
    auto conn = std::make_shared<Connection>(std::move(socket), limits_for(l), fmt::format("ps{} ({})", l.index, l.endpoint.str()));
    Hello h;
    h.model_fingerprint = fingerprint_;
    h.model = model_;
    h.token = o_.token;
    h.role = PeerRole::Worker;
    h.worker = o_.worker;
    h.shard = static_cast<std::uint32_t>(l.index);
    h.range_begin = l.range.begin;
    h.range_end = l.range.end;
    h.incarnation = l.incarnation++;
    conn->start();
    conn->send(encode(h));
    // Wait (bounded by the connection's timeouts) for the ack or a refusal.
    std::optional<Frame> first;
    std::string error;
    asio::co_spawn(io_, [conn, &first, &error]() -> asio::awaitable<void> {
      try {
        first = co_await conn->read_frame();
      } catch (const std::exception& e) {
        error = e.what();
      }
    }, asio::detached);
    // Bounded: the connection's watchdog closes it after real.timeout without an answer.
    while (!first && error.empty()) run_one_for(std::chrono::milliseconds(200));
    if (!first) throw Error(error);
    if (first->header.type == MsgType::Refuse) {
      auto r = decode_refuse(first->payload);
      const std::string why = r ? fmt::format("{}: {}", refuse_reason_name(r->reason), r->message) : "malformed refusal";
      conn->close("refused");
      throw RefusedError(fmt::format("refused by ps{} at {}: {}", l.index, l.endpoint.str(), why));
    }
    if (first->header.type == MsgType::Stop) {
      stopped_ = true;
      auto st = decode_stop(first->payload);
      stop_reason_ = st ? st->reason : "stop";
      conn->close("stopped");
      return;
    }
    auto ack = first->header.type == MsgType::HelloAck ? decode_hello_ack(first->payload) : std::nullopt;
    if (!ack) throw Error(fmt::format("ps{} answered the hello with {}", l.index, msg_type_name(static_cast<std::uint8_t>(first->header.type))));
    spdlog::info("worker {}: connected to ps{} at {} (policy {}, version {}, {:.2f} s into the run)", o_.worker, l.index, l.endpoint.str(),
                 ack->policy, ack->version, ack->run_time);
    l.conn = conn;
    l.down = false;
    asio::co_spawn(io_, reader(l.index, conn), asio::detached);
  }

  ConnectionLimits limits_for(const ShardLink& l) const {
    ConnectionLimits c = o_.limits;
    c.max_param_payload = max_param_payload(l.range.size());
    return c;
  }

  asio::awaitable<void> reader(int index, std::shared_ptr<Connection> conn) {
    auto& l = links_[static_cast<std::size_t>(index)];
    try {
      for (;;) {
        Frame f = co_await conn->read_frame();
        switch (f.header.type) {
          case MsgType::Heartbeat: break;
          case MsgType::Params: {
            auto r = decode_params(f, l.range.size());
            if (!r) throw ConnectionError(fmt::format("{}: malformed params", conn->peer()));
            conn->recycle(std::move(f.payload));
            l.reply = std::move(*r);
            l.first_byte = conn->last_frame_started();
            break;
          }
          case MsgType::Cancel: {
            auto c = decode_cancel(f.payload);
            if (c) cancel_clock_ = clock_;
            break;
          }
          case MsgType::Stop: {
            auto st = decode_stop(f.payload);
            if (!stopped_) spdlog::info("worker {}: ps{} stops the job ({})", o_.worker, index, st ? st->reason : "");
            stopped_ = true;
            stop_reason_ = st ? st->reason : "stop";
            break;
          }
          case MsgType::Error: {
            auto e = decode_error(f.payload);
            throw ConnectionError(fmt::format("{} reported an error: {}", conn->peer(), e ? e->message : "?"));
          }
          default:
            throw ConnectionError(fmt::format("{}: unexpected {} frame", conn->peer(), msg_type_name(static_cast<std::uint8_t>(f.header.type))));
        }
      }
    } catch (const std::exception& e) {
      if (l.conn == conn && !stopped_) {
        spdlog::warn("worker {}: lost ps{}: {}", o_.worker, index, e.what());
        l.down = true;
        l.down_reason = e.what();
      }
      conn->close(e.what());
    }
  }

  const WorkerOptions& o_;
  StepEmulation emulation_;
  double step_flops_ = 0;
  Clock::time_point compute_from_;
  asio::io_context io_;
  std::vector<ShardLink> links_;
  std::uint64_t fingerprint_ = 0, clock_ = 0;
  std::string model_;
  std::optional<std::uint64_t> cancel_clock_;
  bool stopped_ = false;
  std::string stop_reason_;
  double receive_s_ = 0;
  Clock::time_point start_;
};

}  // namespace

int run_worker(const WorkerOptions& o) {
  if (o.ps.empty()) throw ConfigError("--ps_hosts", "no parameter-server address given");
  if (o.token.empty()) throw ConfigError("real.token", "empty job token (set real.token or SYNCLAB_TOKEN)");
  auto res = make_worker_resources(o.config, o.worker, o.device);
  spdlog::info("worker {}: {} on {}, {} training samples in its shard, policy {}", o.worker, res->spec.name, res->device,
               res->data.train.size() / static_cast<std::size_t>(o.config.cluster.workers), o.config.policy.name);
  TcpDriver driver(o, res->spec, res->setup.step_flops);
  driver.connect_all();
  WorkerCore core(res->setup);
  if (!driver.stopped()) core.run(driver);
  const auto& st = core.stats();
  spdlog::info("worker {}: done ({}); {} pushes, compute {:.2f} s, wait {:.2f} s, push {:.2f} s", o.worker, driver.stop_reason(), st.pushes,
               st.compute_s, st.wait_s, st.push_s);
  driver.finish(st, res->device);
  return 0;
}

}  // namespace synclab::real
