#pragma once
// Bounds a kind of log line that a remote peer can trigger at will (accept errors, wrong
// tokens, strangers' protocol errors) to a few per interval, counting the ones held back.
#include <chrono>
#include <cstdint>

namespace synclab::real {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  /// At most `burst` lines per `interval`.
  explicit LogLimiter(Clock::duration interval, int burst = 1) : interval_(interval), burst_(burst) {}
  /// True when a line may be written now; `*held_back` is then the number of lines
  /// suppressed since the last one written (0 otherwise).
  bool allow(std::uint64_t* held_back) {
    const auto now = Clock::now();
    if (written_ == 0 || now - window_start_ >= interval_) {
      window_start_ = now;
      written_ = 0;
    }
    if (written_ >= burst_) {
      ++suppressed_;
      return false;
    }
    ++written_;
    *held_back = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  Clock::duration interval_;
  int burst_;
  Clock::time_point window_start_{};
  int written_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace synclab::real
