#include "experiments/median_seconds.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

namespace synclab::experiments {

double median_seconds(int repeats, double min_seconds, const std::function<void()>& prepare,
                      const std::function<void()>& timed) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 2; ++i) {
    prepare();
    timed();
  }
  std::vector<double> t;
  const auto start = Clock::now();
  while (t.size() < static_cast<std::size_t>(repeats) ||
         (std::chrono::duration<double>(Clock::now() - start).count() < min_seconds && t.size() < 1000)) {
    prepare();
    const auto t0 = Clock::now();
    timed();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace synclab::experiments
