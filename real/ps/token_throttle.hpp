#pragma once
// Wrong job tokens from one source address: each try after a failure waits for its turn,
// the wait doubling per failure, so guessing is slow even over many parallel connections.
// The caller supplies the time; the table of addresses stays bounded.
#include <chrono>
#include <map>
#include <string>

namespace synclab::real {

class TokenThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr double kFirstDelay = 0.25;  ///< seconds after the first wrong token
  static constexpr double kMaxDelay = 10.0;    ///< the wait never grows beyond this
  static constexpr std::size_t kMaxAddresses = 4096;  ///< past this, the table starts over
  static constexpr auto kForgetAfter = std::chrono::minutes(10);  ///< an address's failures expire

  /// Seconds a try waits after `failures` wrong tokens (0 for none).
  static double delay(int failures);

  /// When a hello from `address`, arriving at `now`, may be judged (`now` when the address
  /// has no failures). Every call must be paired with done_waiting(address).
  Clock::time_point turn(const std::string& address, Clock::time_point now);
  /// The hello that waited for its turn is being judged now.
  void done_waiting(const std::string& address);
  /// Records the verdict on a token: right clears the address, wrong counts a failure.
  void note(const std::string& address, bool right, Clock::time_point now);
  /// Wrong tokens recorded for `address` (0 when none or forgotten).
  int failures(const std::string& address) const;
  /// Addresses currently tracked.
  std::size_t addresses() const { return table_.size(); }

 private:
  struct Entry {
    int failures = 0;
    int pending = 0;  // hellos waiting for their turn
    Clock::time_point next_try{}, last_failure{};
  };
  void forget_old(Clock::time_point now);
  std::map<std::string, Entry> table_;
};

}  // namespace synclab::real
