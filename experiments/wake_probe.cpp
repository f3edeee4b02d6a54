#include "experiments/wake_probe.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include "core/common/error.hpp"

namespace synclab::experiments {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

bool set_cores(const cpu_set_t& set) { return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0; }

void run_on(const cpu_set_t& set) {
  if (!set_cores(set)) throw Error("wake probe: cannot set a thread's cores");
}

cpu_set_t only(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  return s;
}

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (const int f : fd)
      if (f >= 0) ::close(f);
  }
};

}  // namespace

double waited_share(const std::vector<double>& delays, double busy_s) {
  if (delays.empty()) return 0;
  const auto waited = std::count_if(delays.begin(), delays.end(), [&](double d) { return d >= busy_s / 2; });
  return static_cast<double>(waited) / static_cast<double>(delays.size());
}

WakeProbe probe_wake_on_busy_core(double busy_s, std::size_t wakeups) {
  WakeProbe out;
  out.busy_s = busy_s;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return out;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  Fds pair;
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair.fd) != 0) throw Error("wake probe: cannot open a socket pair");
  const cpu_set_t first = only(cpus[0]);
  bool placed = true;  // the receiver could set its cores
  std::thread receiver([&] {
    for (std::size_t i = 0; i < wakeups; ++i) {
      // Its last run on the first core (idle but for it), then free to run anywhere: where
      // the kernel wakes it is its own choice.
      if (!set_cores(first) || !set_cores(allowed)) {
        placed = false;
        return;
      }
      std::int64_t sent = 0;
      if (::read(pair.fd[0], &sent, sizeof sent) != static_cast<ssize_t>(sizeof sent)) return;
      out.delays.push_back(static_cast<double>(now_ns() - sent) * 1e-9);
    }
  });
  // The receiver is gone after a failed write or placement: shutting the pair down ends
  // its read, and the thread is joined before anything can throw.
  const auto stop = [&] {
    ::shutdown(pair.fd[1], SHUT_RDWR);
    receiver.join();
    run_on(allowed);
  };
  try {
    run_on(only(cpus[1]));
  } catch (...) {
    stop();
    throw;
  }
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> rest(1e-3, 3e-3);
  for (std::size_t i = 0; i < wakeups; ++i) {
    std::this_thread::sleep_for(std::chrono::duration<double>(rest(rng)));
    const std::int64_t sent = now_ns();
    if (::write(pair.fd[1], &sent, sizeof sent) != static_cast<ssize_t>(sizeof sent)) break;
    // The waker's core stays busy: as a softirq's core that runs another thread's work.
    volatile std::uint64_t spin = 0;
    while (now_ns() - sent < static_cast<std::int64_t>(busy_s * 1e9)) spin = spin + 1;
  }
  stop();
  if (!placed) throw Error("wake probe: cannot set the receiving thread's cores");
  out.wakeups = out.delays.size();
  out.fraction = waited_share(out.delays, busy_s);
  return out;
}

}  // namespace synclab::experiments
