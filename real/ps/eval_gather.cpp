#include "real/ps/eval_gather.hpp"

#include <algorithm>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace synclab::real {

using asio::ip::tcp;

EvalGather::EvalGather(asio::io_context& io, Options options, Hooks hooks) : io_(io), o_(std::move(options)), hooks_(std::move(hooks)) {
  links_.resize(o_.ranges.size());
  for (std::size_t s = 1; s < links_.size(); ++s) {
    links_[s].endpoint = o_.peers.at(s - 1);
    links_[s].range = o_.ranges[s];
  }
}

void EvalGather::start() {
  for (std::size_t s = 1; s < links_.size(); ++s) asio::co_spawn(io_, connect(s), asio::detached);
}

bool EvalGather::begin(const EvalPoint& at) {
  if (in_flight_) return false;
  for (std::size_t s = 1; s < links_.size(); ++s)
    if (!links_[s].conn || !links_[s].conn->open()) {
      spdlog::info("{}: evaluation of version {} skipped: ps{} not connected", o_.name, at.version, s);
      return false;
    }
  InFlight g;
  g.result = Gathered{at, std::make_shared<std::vector<float>>(o_.num_params)};
  const auto own = hooks_.own_params();
  std::copy(own.begin(), own.end(), g.result.params->begin() + static_cast<std::ptrdiff_t>(o_.ranges[0].begin));
  g.missing = static_cast<int>(links_.size()) - 1;
  in_flight_ = std::move(g);
  for (std::size_t s = 1; s < links_.size(); ++s) links_[s].conn->send(encode(PullRequest{-1, 0}));
  return true;
}

void EvalGather::on_params(std::size_t s, std::vector<float>&& values) {
  if (!in_flight_ || values.size() != links_[s].range.size()) return;
  std::copy(values.begin(), values.end(), in_flight_->result.params->begin() + static_cast<std::ptrdiff_t>(links_[s].range.begin));
  if (--in_flight_->missing > 0) return;
  Gathered done = std::move(in_flight_->result);
  in_flight_.reset();
  hooks_.gathered(std::move(done));
}

asio::awaitable<void> EvalGather::connect(std::size_t s) {
  auto& link = links_[s];
  const auto deadline = Connection::Clock::now() + seconds_d(o_.give_up_after);
  double backoff = 0.1;
  asio::steady_timer wait(io_);
  while (!finished_) {
    try {
      tcp::resolver resolver(io_);
      auto eps = co_await resolver.async_resolve(link.endpoint.host, std::to_string(link.endpoint.port), asio::use_awaitable);
      tcp::socket sock(io_);
      co_await asio::async_connect(sock, eps, asio::use_awaitable);
      ConnectionLimits l = o_.limits;
      l.max_param_payload = max_param_payload(link.range.size());
      // We dialled this shard ourselves: its first frame is a HelloAck, not a stranger's
      // hello, so the pre-admission rule (hello only) does not apply to this link.
      l.await_hello = false;
      auto conn = std::make_shared<Connection>(std::move(sock), l, fmt::format("ps{} ({})", s, link.endpoint.str()));
      conn->start();
      co_await serve(s, conn);
      co_return;  // refused: retrying would be refused again
    } catch (const std::exception& e) {
      if (finished_) co_return;
      if (link.conn) {
        spdlog::warn("{}: lost the evaluation link to ps{}: {}", o_.name, s, e.what());
        link.conn.reset();
      }
      if (in_flight_) {  // that gather cannot complete any more
        in_flight_.reset();
        hooks_.abandoned();
      }
      if (Connection::Clock::now() > deadline) {
        spdlog::warn("{}: giving up on ps{} for evaluations: {}", o_.name, s, e.what());
        co_return;
      }
    }
    wait.expires_after(seconds_d(backoff));
    backoff = std::min(2 * backoff, 2.0);
    asio::error_code ec;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Says hello as an observer, then reads the shard's params replies until the link fails
// (throws) or the shard refuses (returns).
asio::awaitable<void> EvalGather::serve(std::size_t s, std::shared_ptr<Connection> conn) {
  auto& link = links_[s];
  Hello h;
  h.model_fingerprint = o_.fingerprint;
  h.model = o_.model;
  h.token = o_.token;
  h.role = PeerRole::Observer;
  h.shard = static_cast<std::uint32_t>(s);
  h.range_begin = link.range.begin;
  h.range_end = link.range.end;
  conn->send(encode(h));
  Frame f = co_await conn->read_frame();
  if (f.header.type != MsgType::HelloAck) {
    auto r = f.header.type == MsgType::Refuse ? decode_refuse(f.payload) : std::nullopt;
    spdlog::error("{}: ps{} refused the evaluation link: {}", o_.name, s, r ? r->message : msg_type_name(static_cast<std::uint8_t>(f.header.type)));
    co_return;
  }
  link.conn = conn;
  spdlog::info("{}: connected to ps{} at {} for evaluations", o_.name, s, link.endpoint.str());
  if (std::all_of(links_.begin() + 1, links_.end(), [](const Link& l) { return l.conn != nullptr; })) hooks_.connected();
  for (;;) {
    Frame fr = co_await conn->read_frame();
    if (fr.header.type != MsgType::Params) continue;
    if (auto r = decode_params(fr, link.range.size())) on_params(s, std::move(r->values));
  }
}

asio::awaitable<void> EvalGather::release() {
  for (std::size_t s = 1; s < links_.size(); ++s)
    if (links_[s].conn && links_[s].conn->open()) links_[s].conn->send(encode(Bye{-1}));
  for (std::size_t s = 1; s < links_.size(); ++s)
    if (links_[s].conn && links_[s].conn->open()) co_await links_[s].conn->flush();
}

}  // namespace synclab::real
