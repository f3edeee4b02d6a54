#include "real/net/connection.hpp"

#include <algorithm>
#include <array>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "core/config/run_config.hpp"

namespace synclab::real {
namespace {
constexpr std::size_t kRxChunk = 64 * 1024;
// async_write (writer()) hands the socket 64 KiB per call and resumes from the event loop, so
// the server's replies go out round-robin; the simulator's write gap is that first chunk.
static_assert(kSocketWriteChunk == asio::detail::default_max_transfer_size);
// An unauthenticated peer gets a read buffer that fits a hello, not 64 KiB: hundreds of
// idle strangers must not cost megabytes.
constexpr std::size_t kRxHello = kHeaderSize + kMaxHelloPayload;
constexpr std::size_t kLowWater = 256 * 1024;
}

void Connection::set_low_water(std::size_t bytes) {
  if (bytes == low_water_) return;
  asio::error_code ec;
  socket_.set_option(asio::socket_base::receive_low_watermark(static_cast<int>(bytes)), ec);
  low_water_ = bytes;
}

Connection::Connection(asio::ip::tcp::socket socket, ConnectionLimits limits, std::string peer)
    : socket_(std::move(socket)),
      limits_(limits),
      peer_(std::move(peer)),
      parser_(limits.await_hello ? FrameAdmission::hello_only() : FrameAdmission::any(limits.max_param_payload), limits.budget),
      rx_(limits.await_hello ? kRxHello : kRxChunk),
      wake_writer_(socket_.get_executor()),
      flushed_(socket_.get_executor()),
      watchdog_timer_(socket_.get_executor()),
      heartbeat_timer_(socket_.get_executor()) {
  last_rx_ = last_tx_ = Clock::now();
  asio::error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

Connection::~Connection() = default;

void Connection::start() {
  if (started_) return;
  started_ = true;
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), [self]() { return self->writer(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self]() { return self->watchdog(); }, asio::detached);
  if (limits_.heartbeat_interval > 0)
    asio::co_spawn(socket_.get_executor(), [self]() { return self->heartbeats(); }, asio::detached);
}

void Connection::admit_all() {
  parser_.admit(FrameAdmission::any(limits_.max_param_payload));
  if (rx_.size() < kRxChunk) rx_.resize(kRxChunk);  // keeps unread bytes in place
}

void Connection::close(const std::string& why) {
  if (!open_) return;
  open_ = false;
  close_reason_ = why;
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_writer_.cancel();
  flushed_.cancel();
  watchdog_timer_.cancel();
  heartbeat_timer_.cancel();
}

void Connection::fail(const std::string& why) {
  close(why);
  throw ConnectionError(fmt::format("{}: {}", peer_, why));
}

asio::awaitable<Frame> Connection::read_frame() {
  for (;;) {
    if (!open_) fail(close_reason_.empty() ? "connection closed" : close_reason_);
    // Bytes left over from an earlier read go to the parser first.
    if (rx_begin_ < rx_end_) {
      const std::size_t used = parser_.feed(std::span(rx_).subspan(rx_begin_, rx_end_ - rx_begin_));
      rx_begin_ += used;
    }
    if (parser_.failed()) {
      const std::string why = parser_.error_text();
      // Tell the peer why before closing when it speaks another version, so both sides log it.
      if (parser_.error() == FrameError::BadVersion) {
        auto refuse = encode(Refuse{RefuseReason::BadVersion, fmt::format("server speaks protocol version {}", kProtocolVersion)});
        asio::error_code ec;
        asio::write(socket_, std::array{asio::buffer(refuse.header), asio::buffer(refuse.meta)}, ec);
      }
      fail(why);
    }
    if (parser_.has_frame()) {
      last_frame_started_ = in_frame_ ? frame_started_ : Clock::now();
      in_frame_ = parser_.mid_frame();
      co_return parser_.take();
    }
    if (parser_.mid_frame() && !in_frame_) {
      in_frame_ = true;
      frame_started_ = Clock::now();
    }
    asio::error_code ec;
    std::size_t n = 0;
    auto space = parser_.payload_space();
    if (space.size() >= kRxChunk) {
      // Large payloads are received straight into the frame buffer: no extra copy. The
      // receive low-water mark keeps the kernel from waking us for every 64 KB segment.
      set_low_water(std::min(space.size(), kLowWater));
      n = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) parser_.commit(n);
    } else {
      set_low_water(1);
      n = co_await socket_.async_read_some(asio::buffer(rx_), asio::redirect_error(asio::use_awaitable, ec));
      rx_begin_ = 0;
      rx_end_ = ec ? 0 : n;
    }
    if (ec) {
      if (!open_) fail(close_reason_.empty() ? "connection closed" : close_reason_);
      fail(ec == asio::error::eof ? std::string("peer closed the connection") : ec.message());
    }
    bytes_received_ += n;
    last_rx_ = Clock::now();
    if (!parser_.mid_frame()) in_frame_ = false;
  }
}

void Connection::send(Encoded message, std::shared_ptr<const void> keep) {
  if (!open_) return;
  queue_.push_back(Outgoing{std::move(message), std::move(keep)});
  wake_writer_.cancel_one();
}

asio::awaitable<void> Connection::flush() {
  while (open_ && (writing_ || !queue_.empty())) {
    flushed_.expires_after(std::chrono::hours(1));
    asio::error_code ec;
    co_await flushed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> Connection::writer() {
  auto self = shared_from_this();  // keeps the connection alive while the coroutine runs
  while (open_) {
    if (queue_.empty()) {
      flushed_.cancel();
      wake_writer_.expires_after(std::chrono::hours(24));
      asio::error_code ec;
      co_await wake_writer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    writing_ = true;
    Outgoing out = std::move(queue_.front());
    queue_.pop_front();
    const auto& m = out.message;
    const std::array bufs{asio::buffer(m.header), asio::buffer(m.meta), asio::buffer(m.floats.data(), m.floats.size_bytes())};
    asio::error_code ec;
    const std::size_t n = co_await asio::async_write(socket_, bufs, asio::redirect_error(asio::use_awaitable, ec));
    writing_ = false;
    bytes_sent_ += n;
    last_tx_ = Clock::now();
    if (ec) {
      close(fmt::format("write failed: {}", ec.message()));
      break;
    }
  }
  flushed_.cancel();
}

asio::awaitable<void> Connection::watchdog() {
  auto self = shared_from_this();
  const auto tick = seconds_d(std::clamp(std::min(limits_.frame_timeout, limits_.idle_timeout) / 4, 0.01, 0.5));
  while (open_) {
    watchdog_timer_.expires_after(tick);
    asio::error_code ec;
    co_await watchdog_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!open_) break;
    const auto now = Clock::now();
    if (in_frame_ && limits_.frame_timeout > 0 && now - frame_started_ > seconds_d(limits_.frame_timeout)) {
      close(fmt::format("frame not completed within {:g} s (peer too slow or stalled)", limits_.frame_timeout));
    } else if (limits_.idle_timeout > 0 && now - last_rx_ > seconds_d(limits_.idle_timeout)) {
      close(fmt::format("nothing received for {:g} s (heartbeat timeout)", limits_.idle_timeout));
    }
  }
}

asio::awaitable<void> Connection::heartbeats() {
  auto self = shared_from_this();
  while (open_) {
    heartbeat_timer_.expires_after(seconds_d(limits_.heartbeat_interval));
    asio::error_code ec;
    co_await heartbeat_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!open_) break;
    // Only when the line is quiet: a large transfer in progress already proves liveness.
    if (!writing_ && queue_.empty() && Clock::now() - last_tx_ >= seconds_d(limits_.heartbeat_interval))
      send(encode(Heartbeat{++heartbeat_seq_}));
  }
}

}  // namespace synclab::real
