#pragma once
// Keeps a kind of log line that a remote peer can trigger at will (accept errors, wrong
// tokens, strangers' protocol errors) to one per interval, counting the ones held back.
#include <chrono>
#include <cstdint>

namespace synclab::real {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LogLimiter(Clock::duration interval) : interval_(interval) {}
  /// True when a line may be written now; `*held_back` is then the number of lines
  /// suppressed since the last one written (0 otherwise).
  bool allow(std::uint64_t* held_back) {
    const auto now = Clock::now();
    if (written_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    written_ = true;
    last_ = now;
    *held_back = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  Clock::duration interval_;
  Clock::time_point last_{};
  bool written_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace synclab::real
