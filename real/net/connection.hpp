#pragma once
// A framed TCP connection over standalone Asio (C++20 coroutines, one io_context thread):
// frames in through the incremental parser, messages out through a write queue drained by
// one writer coroutine, and a watchdog that closes the connection when a frame trickles in
// too slowly (slowloris) or nothing arrives for too long (dead peer).
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "core/common/error.hpp"
#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::real {

/// The peer broke the protocol or went away; what() names the peer and the reason.
class ConnectionError : public Error {
 public:
  using Error::Error;
};

struct ConnectionLimits {
  std::size_t max_param_payload = 0;  ///< parser bound (max_param_payload(range floats))
  double frame_timeout = 10.0;        ///< seconds a started frame may take to arrive completely
  double idle_timeout = 30.0;         ///< seconds without any byte before the peer counts as dead
  double heartbeat_interval = 1.0;    ///< seconds between our heartbeats when nothing else is sent
  bool await_hello = false;           ///< accepted peer: only a hello-sized hello until admit_all()
  std::shared_ptr<ReceiveBudget> budget;  ///< receive-buffer bytes shared by all connections (null: no cap)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = std::chrono::steady_clock;
  Connection(asio::ip::tcp::socket socket, ConnectionLimits limits, std::string peer);
  ~Connection();

  /// Starts the writer, watchdog and heartbeat coroutines (call once, on the io thread).
  void start();
  /// Next complete frame (heartbeats are returned too; the caller skips them). Throws
  /// ConnectionError on a protocol error, EOF, reset, or a watchdog close.
  asio::awaitable<Frame> read_frame();
  /// Queues a message; `keep` owns the floats the message borrows until it is written.
  void send(Encoded message, std::shared_ptr<const void> keep = nullptr);
  /// Completes once everything queued so far is written (or the connection closed).
  asio::awaitable<void> flush();
  /// The peer is authenticated: from its next frame on it may send any type up to
  /// limits.max_param_payload (a connection made with await_hello accepts only a hello).
  void admit_all();
  /// Closes the socket; pending reads/writes fail. `why` is kept for the owner's log line.
  void close(const std::string& why);

  bool open() const { return open_; }
  const std::string& peer() const { return peer_; }
  void set_peer(std::string name) { peer_ = std::move(name); }
  const std::string& close_reason() const { return close_reason_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  /// Gives a payload buffer back to the parser for reuse.
  void recycle(std::vector<std::uint8_t>&& buffer) { parser_.recycle(std::move(buffer)); }
  void recycle(std::vector<float>&& floats) { parser_.recycle(std::move(floats)); }
  asio::ip::tcp::socket& socket() { return socket_; }
  /// When the first bytes of the frame last returned by read_frame() arrived (transfer time
  /// of a large frame = its completion minus this).
  Clock::time_point last_frame_started() const { return last_frame_started_; }

 private:
  struct Outgoing {
    Encoded message;
    std::shared_ptr<const void> keep;
  };
  asio::awaitable<void> writer();
  asio::awaitable<void> watchdog();
  asio::awaitable<void> heartbeats();
  [[noreturn]] void fail(const std::string& why);
  void set_low_water(std::size_t bytes);

  asio::ip::tcp::socket socket_;
  ConnectionLimits limits_;
  std::string peer_;
  FrameParser parser_;
  std::vector<std::uint8_t> rx_;      // small-read buffer for headers and control frames
  std::size_t rx_begin_ = 0, rx_end_ = 0, low_water_ = 1;
  std::deque<Outgoing> queue_;
  asio::steady_timer wake_writer_, flushed_, watchdog_timer_, heartbeat_timer_;
  bool open_ = true, writing_ = false, started_ = false;
  std::string close_reason_;
  Clock::time_point last_rx_, frame_started_, last_tx_, last_frame_started_;
  bool in_frame_ = false;
  std::uint64_t bytes_sent_ = 0, bytes_received_ = 0, heartbeat_seq_ = 0;
};

/// Seconds as a steady_clock duration.
inline std::chrono::steady_clock::duration seconds_d(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace synclab::real
