#include "real/ps/token_throttle.hpp"

#include <algorithm>
#include <cmath>

namespace synclab::real {
namespace {

TokenThrottle::Clock::duration seconds(double s) {
  return std::chrono::duration_cast<TokenThrottle::Clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

double TokenThrottle::delay(int failures) {
  return failures <= 0 ? 0.0 : std::min(kMaxDelay, kFirstDelay * std::pow(2.0, failures - 1));
}

TokenThrottle::Clock::time_point TokenThrottle::turn(const std::string& address, Clock::time_point now) {
  auto it = table_.find(address);
  if (it == table_.end() || it->second.failures == 0) return now;
  // Hellos already waiting count as failures to come: parallel guesses are spaced as if
  // they had been made one after another.
  auto& e = it->second;
  const auto at = std::max(now, e.next_try);
  ++e.pending;
  e.next_try = at + seconds(delay(e.failures + e.pending));
  return at;
}

void TokenThrottle::done_waiting(const std::string& address) {
  if (auto it = table_.find(address); it != table_.end() && it->second.pending > 0) --it->second.pending;
}

void TokenThrottle::note(const std::string& address, bool right, Clock::time_point now) {
  if (right) {
    table_.erase(address);
    return;
  }
  auto& e = table_[address];
  ++e.failures;
  e.last_failure = now;
  e.next_try = std::max(e.next_try, now + seconds(delay(e.failures)));
  if (table_.size() > kMaxAddresses) forget_old(now);
}

int TokenThrottle::failures(const std::string& address) const {
  const auto it = table_.find(address);
  return it == table_.end() ? 0 : it->second.failures;
}

// Bounded memory: old entries go first; past kMaxAddresses at once, per-address delays
// have stopped mattering, and the table starts over rather than grow without end.
void TokenThrottle::forget_old(Clock::time_point now) {
  std::erase_if(table_, [&](const auto& kv) { return now - kv.second.last_failure > kForgetAfter; });
  if (table_.size() > kMaxAddresses) table_.clear();
}

}  // namespace synclab::real
