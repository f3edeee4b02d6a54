#pragma once
// A raw TCP peer for loopback tests of the PS: speaks whatever bytes a test wants.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "real/protocol/frame.hpp"

namespace synclab::real::test {

// A raw TCP peer speaking whatever bytes a test wants.
class RawPeer {
 public:
  explicit RawPeer(int port, const char* address = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, address, &a.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawPeer() { ::close(fd_); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send(const std::vector<std::uint8_t>& b) { return ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()); }
  /// Reads until one frame other than a heartbeat parses, the peer closes, or `seconds` pass.
  std::optional<Frame> read_frame(double seconds) {
    FrameParser p(1 << 20);
    std::uint8_t buf[4096];
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return std::nullopt;
      }
      std::span<const std::uint8_t> rest(buf, static_cast<std::size_t>(n));
      while (!rest.empty() && !p.failed()) {
        rest = rest.subspan(p.feed(rest));
        if (!p.has_frame()) continue;
        Frame f = p.take();
        if (f.header.type != MsgType::Heartbeat) return f;
      }
    }
    return std::nullopt;
  }
  /// True when the server closed the connection within `seconds` (frames before EOF are skipped).
  bool closed_within(double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    std::uint8_t buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return closed_;
  }

 private:
  int fd_ = -1;
  bool connected_ = false, closed_ = false;
};

}  // namespace synclab::real::test
