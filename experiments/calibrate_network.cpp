#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>
#include <unistd.h>


#include <asio.hpp>
#include <fmt/format.h>

#include "core/common/error.hpp"
#include "experiments/ack_timestamps.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/interface_gso.hpp"
#include "experiments/tcp_sender_state.hpp"

namespace synclab::experiments {
namespace {
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// A peer that stops answering (rather than closing) would hold a blocking read forever. A
// watchdog thread shuts the socket down once one step has lasted `patience` seconds, which
// ends the blocked call; the error then names the step. The timed exchanges stay plain
// blocking calls, so the watch costs them nothing but a clock read per step.
class Watchdog {
 public:
  Watchdog(tcp::socket& s, double patience_s) : s_(s), patience_(patience_s), since_(Clock::now()) {
    thread_ = std::thread([this] { watch(); });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Enters a step: its clock starts now.
  void step(const char* what) {
    std::lock_guard lock(m_);
    what_ = what;
    since_ = Clock::now();
  }
  /// The error for a failed call: "no answer for N s while <step>" when the watchdog ended
  /// it, else the call's own.
  std::string explain(const std::exception& e) {
    std::lock_guard lock(m_);
    return fired_ ? fmt::format("no answer for {:g} s while {}", patience_, what_) : std::string(e.what());
  }

 private:
  void watch() {
    std::unique_lock lock(m_);
    while (!stop_) {
      const auto deadline = since_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(patience_));
      if (Clock::now() >= deadline) {
        fired_ = true;
        asio::error_code ec;
        s_.shutdown(tcp::socket::shutdown_both, ec);  // wakes a blocked read or write
        return;
      }
      cv_.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
    }
  }

  tcp::socket& s_;
  double patience_;
  std::mutex m_;
  std::condition_variable cv_;
  Clock::time_point since_;
  const char* what_ = "connecting";
  bool stop_ = false, fired_ = false;
  std::thread thread_;
};

// Wire protocol of one measurement: the server first sends its kernel's boot id (36
// bytes); the client sends three u64 in host order (round trips, message bytes, repeats);
// the server echoes each 1-byte ping, then acknowledges each bulk message with one byte
// once it has all of it, so the client's clock covers the whole transfer (the client sends
// the last of them in streams, back to back, without waiting for those bytes). Then the
// kernel-cost phases: before each the client sends a u64, the messages each way (0: no more
// phases); both ends send that many messages at once while reading the other's, and the
// server sends one byte once it has sent and read all of them. Last, one more u64, the
// messages of the phase with steps beside it (0: none), acknowledged one by one.
constexpr std::uint64_t kMaxMessage = 1ULL << 32;
constexpr int kStreams = 3;  // bandwidth streams, the best of which is the link's rate
constexpr std::uint64_t kMaxKernelRepeats = 1000000;
constexpr std::size_t kBootIdBytes = 36;
constexpr double kKernelPhase = 0.5;             // seconds, at least
constexpr double kKernelBytes = 64.0 * (1 << 20);  // bytes, at least
constexpr double kKernelPhaseMax = 8;             // seconds, at most
constexpr double kKernelQuietMax = 2;             // seconds of the quiet spell before it, at most

// The running kernel's boot id: the same in every network namespace and container of one
// machine, different on another machine (and after a reboot). Empty where unreadable.
std::string boot_id() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(f, id);
  return id.size() == kBootIdBytes ? id : std::string();
}

// System, irq and softirq time of every CPU since boot, in seconds (/proc/stat's first line).
double kernel_cpu_seconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) || cpu != "cpu") return -1;
  return (system + irq + softirq) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return static_cast<int>(std::thread::hardware_concurrency());
  return CPU_COUNT(&set);
}

// One bulk phase of the client: how many messages it sends, then each received and
// acknowledged. `waiting` and `receiving` (literals: the watchdog keeps them) say what a
// timeout was waiting for.
void serve_bulk_phase(tcp::socket& s, Watchdog& wd, std::vector<char>& buf, const char* waiting,
                      const char* receiving) {
  std::uint64_t repeats = 0;
  wd.step(waiting);
  asio::read(s, asio::buffer(&repeats, sizeof repeats));
  if (repeats > kMaxKernelRepeats) throw Error(std::string("calibrate: bad request from peer ") + waiting);
  char b = 0;
  for (std::uint64_t r = 0; r < repeats; ++r) {
    wd.step(receiving);
    asio::read(s, asio::buffer(buf));
    asio::write(s, asio::buffer(&b, 1));
  }
}

// Sends `repeats` messages of `out` while a thread reads as many of the peer's, as a
// server's replies leave while pushes arrive; returns once both are done. Only this thread
// enters watchdog steps (`sending`, then `receiving`: literals, the watchdog keeps them).
// Asio allows one synchronous read beside one synchronous write on a socket.
void exchange_bulk_phase(tcp::socket& s, Watchdog& wd, const std::vector<char>& out, std::uint64_t repeats,
                         const char* sending, const char* receiving) {
  std::vector<char> in(out.size());
  std::exception_ptr read_error;
  std::thread reader([&] {
    try {
      for (std::uint64_t r = 0; r < repeats; ++r) asio::read(s, asio::buffer(in));
    } catch (...) {
      read_error = std::current_exception();
    }
  });
  std::exception_ptr write_error;
  try {
    for (std::uint64_t r = 0; r < repeats; ++r) {
      wd.step(sending);
      asio::write(s, asio::buffer(out));
    }
  } catch (...) {
    write_error = std::current_exception();
    asio::error_code ec;
    s.shutdown(tcp::socket::shutdown_both, ec);  // the reader would wait for bytes that never come
  }
  if (!write_error) wd.step(receiving);
  reader.join();
  if (write_error) std::rethrow_exception(write_error);
  if (read_error) std::rethrow_exception(read_error);
}

void serve_one(tcp::socket& s, Watchdog& wd) {
  s.set_option(tcp::no_delay(true));
  std::string id = boot_id();
  id.resize(kBootIdBytes, ' ');
  wd.step("sending the boot id");
  asio::write(s, asio::buffer(id));
  std::uint64_t header[3] = {0, 0, 0};
  wd.step("waiting for the client's request");
  asio::read(s, asio::buffer(header, sizeof header));
  if (header[1] == 0 || header[1] > kMaxMessage || header[2] > 2000) throw Error("calibrate: bad request from peer");
  char b = 0;
  for (std::uint64_t i = 0; i < header[0]; ++i) {
    wd.step("echoing the latency pings");
    asio::read(s, asio::buffer(&b, 1));
    asio::write(s, asio::buffer(&b, 1));
  }
  std::vector<char> buf(header[1]);
  for (std::uint64_t r = 0; r < header[2]; ++r) {
    wd.step("receiving a bandwidth transfer");
    asio::read(s, asio::buffer(buf));
    asio::write(s, asio::buffer(&b, 1));
  }
  for (int phase = 0;; ++phase) {
    std::uint64_t repeats = 0;
    wd.step(phase == 0 ? "waiting for the kernel phase (the client measures the machine's quiet spell first)"
                       : "waiting for the next kernel phase");
    asio::read(s, asio::buffer(&repeats, sizeof repeats));
    if (repeats == 0) break;
    if (repeats > kMaxKernelRepeats || phase >= kKernelPhases)
      throw Error("calibrate: bad request from peer waiting for a kernel phase");
    exchange_bulk_phase(s, wd, buf, repeats, "sending kernel-phase transfers", "receiving kernel-phase transfers");
    wd.step("acknowledging a kernel phase");
    asio::write(s, asio::buffer(&b, 1));
  }
  serve_bulk_phase(s, wd, buf, "waiting for the phase with steps beside it", "receiving a transfer beside the steps");
}

// Sends `repeats` messages of buf, each acknowledged by the peer before the next.
// `sending` (a literal: the watchdog keeps it) says what a timeout was waiting for.
void send_bulk_phase(tcp::socket& s, Watchdog& wd, std::vector<char>& buf, std::uint64_t repeats, const char* sending) {
  char b = 1;
  for (std::uint64_t r = 0; r < repeats; ++r) {
    wd.step(sending);
    asio::write(s, asio::buffer(buf));
    asio::read(s, asio::buffer(&b, 1));
  }
}

// Sends `repeats` messages while `step` runs over and over on a thread of its own; returns
// the steps' seconds (those that ended before the last message was acknowledged).
std::vector<double> steps_beside_transfers(tcp::socket& s, Watchdog& wd, std::vector<char>& buf, std::uint64_t repeats,
                                           const std::function<double()>& step) {
  std::atomic<bool> done{false};
  std::vector<double> steps;
  std::exception_ptr step_error;
  std::thread stepper([&] {
    try {
      while (!done.load(std::memory_order_relaxed)) {
        const double t = step();
        if (!done.load(std::memory_order_relaxed)) steps.push_back(t);
      }
    } catch (...) {
      step_error = std::current_exception();
    }
  });
  try {
    send_bulk_phase(s, wd, buf, repeats, "sending a transfer beside the steps");
  } catch (...) {
    done = true;
    stepper.join();
    throw;
  }
  done = true;
  stepper.join();
  if (step_error) std::rethrow_exception(step_error);
  return steps;
}

// The first reads: `count` messages, each after a rest of 1 to 3 ms (drawn) in which the
// server's thread falls asleep in its read, as a real receiver waits for its next message.
// The first write of each (`first` bytes: the first packet a sender hands its interface,
// one GSO packet) is stamped leaving and acknowledged. Linux acknowledges data at once
// only while the window it offers keeps up, which takes the application's read, so that
// delay less the kernel's round trip is how long the receiving process took to read
// (seconds, one per message stamped; empty where the kernel gives no stamps). Nothing may
// be in flight when it starts: the stamps' keys count from there.
std::vector<double> first_reads(tcp::socket& s, Watchdog& wd, const std::vector<char>& buf, std::size_t first,
                                std::size_t count) {
  const int fd = s.native_handle();
  const bool stamped = enable_tx_stamps(fd);
  std::minstd_rand rng(7);
  std::uniform_real_distribution<double> rest(1e-3, 3e-3);
  first = std::clamp<std::size_t>(first, 1, buf.size());
  std::uint32_t written = 0;
  std::vector<double> delays;
  char b = 0;
  for (std::size_t r = 0; r < count; ++r) {
    std::this_thread::sleep_for(std::chrono::duration<double>(rest(rng)));
    wd.step("timing a first read");
    asio::write(s, asio::buffer(buf.data(), first));
    const std::uint32_t key = written + static_cast<std::uint32_t>(first) - 1;
    asio::write(s, asio::buffer(buf.data() + first, buf.size() - first));
    written += static_cast<std::uint32_t>(buf.size());
    asio::read(s, asio::buffer(&b, 1));
    // The ACK of the first write came before the server had the whole message: its stamp waits.
    if (const double d = stamped ? ack_delay(read_tx_stamps(fd), key) : -1; d >= 0) delays.push_back(d);
  }
  if (stamped) disable_tx_stamps(fd);
  const double rtt = kernel_min_rtt(fd);
  for (double& d : delays) d = std::max(0.0, d - rtt);
  return delays;
}

NetworkCalibration measure(tcp::socket& s, Watchdog& wd, std::size_t message_bytes, std::size_t round_trips, int repeats,
                           bool loopback, const std::function<double()>& step) {
  s.set_option(tcp::no_delay(true));
  std::string peer_id(kBootIdBytes, ' ');
  wd.step("waiting for the server's boot id");
  asio::read(s, asio::buffer(peer_id));
  const std::string own_id = boot_id();
  const bool same_machine = loopback || (!own_id.empty() && peer_id == own_id);
  const std::size_t streamed = streamed_messages(message_bytes);
  const std::uint64_t header[3] = {round_trips, message_bytes,
                                   static_cast<std::uint64_t>(repeats) + first_read_messages(message_bytes) +
                                       kStreams * streamed};
  asio::write(s, asio::buffer(header, sizeof header));
  NetworkCalibration out;
  out.message_bytes = message_bytes;
  out.round_trips = round_trips;
  char b = 1;
  std::vector<double> rtt;
  rtt.reserve(round_trips);
  for (std::size_t i = 0; i < round_trips; ++i) {
    wd.step("timing a latency ping");
    const auto t0 = Clock::now();
    asio::write(s, asio::buffer(&b, 1));
    asio::read(s, asio::buffer(&b, 1));
    rtt.push_back(seconds_since(t0));
  }
  out.latency_s = median(rtt) / 2;
  std::vector<char> buf(message_bytes, 'x');
  double best = 0;
  std::vector<double> windows, rates, bbr_rates, writes;
  for (int r = 0; r < repeats; ++r) {
    wd.step("timing a bandwidth transfer");
    const auto t0 = Clock::now();
    // The first write() into the idle socket, timed alone, is what a server's thread spends
    // on one reply before it turns to the next (the kernel copies what the socket takes
    // then): as asio::async_write does, at most kSocketWriteChunk bytes; a non-blocking
    // call, so that it returns with what fits instead of waiting for the rest to leave.
    s.non_blocking(true);
    asio::error_code ec;
    const std::size_t taken = s.write_some(asio::buffer(buf.data(), std::min<std::size_t>(buf.size(), kSocketWriteChunk)), ec);
    const double write_s = seconds_since(t0);
    s.non_blocking(false);
    if (ec && ec != asio::error::would_block) throw asio::system_error(ec);
    if (!ec && taken > 0) writes.push_back(write_s / static_cast<double>(taken));
    asio::write(s, asio::buffer(buf.data() + (ec ? 0 : taken), buf.size() - (ec ? 0 : taken)));
    asio::read(s, asio::buffer(&b, 1));
    // The acknowledgement's return trip is latency, not bandwidth.
    const double t = std::max(1e-9, seconds_since(t0) - out.latency_s);
    best = std::max(best, static_cast<double>(message_bytes) / t);
    rates.push_back(static_cast<double>(message_bytes) / t);
    // What the sending TCP keeps in flight on this path, and which congestion control keeps it.
    const TcpSenderState tcp = tcp_sender_state(s.native_handle());
    if (tcp.window_bytes > 0) windows.push_back(tcp.window_bytes);
    if (tcp.bbr_bandwidth_Bps > 0) bbr_rates.push_back(tcp.bbr_bandwidth_Bps);
    // BBR keeps the least round trip it saw over 10 s: the last reading is the smallest.
    if (tcp.bbr_min_rtt_s > 0) out.bbr_min_rtt_s = tcp.bbr_min_rtt_s;
    out.congestion = tcp.congestion;
  }
  out.gso_max_size = interface_gso_max_size(s.native_handle());
  out.first_reads_s =
      first_reads(s, wd, buf, out.gso_max_size > 0 ? out.gso_max_size : 65536, first_read_messages(message_bytes));
  // The streams: one message after another without waiting for their acknowledgements, so
  // that the link stays busy; their rate is the link's, less a shaper's bucket (spent once)
  // and TCP's start, which one message at a time pays every time. Whatever else happens on
  // the path only slows a stream down, so the best of them is the link's. The server
  // acknowledges each message as before; those bytes wait in this socket meanwhile.
  std::vector<char> acks(streamed);
  for (int k = 0; k < kStreams; ++k) {
    wd.step("timing a bandwidth stream");
    const auto t0 = Clock::now();
    for (std::size_t r = 0; r < streamed; ++r) {
      wd.step("sending a bandwidth stream");
      asio::write(s, asio::buffer(buf));
    }
    wd.step("waiting for a bandwidth stream's acknowledgements");
    asio::read(s, asio::buffer(acks));
    const double t = std::max(1e-9, seconds_since(t0) - out.latency_s);
    out.bandwidth_Bps = std::max(out.bandwidth_Bps, static_cast<double>(streamed * message_bytes) / t);
  }
  out.streamed_messages = streamed;
  out.best_bandwidth_Bps = best;
  out.median_bandwidth_Bps = median(rates);
  out.windows = windows;
  out.window_bytes = median(windows);
  out.bbr_bandwidth_Bps = median(bbr_rates);
  out.write_byte_s = median(writes);

  // Both ends on one kernel: the machine's system, irq and softirq time over a bulk phase
  // is what moving these bytes cost its CPUs (the copies, TCP, the qdiscs, both stacks).
  // /proc/stat counts the whole machine, so its kernel time over a quiet spell before the
  // phase (no transfers) is the rate of what else runs, taken off.
  const std::uint64_t kernel_repeats = same_machine ? kernel_phase_messages(out.median_bandwidth_Bps, message_bytes) : 0;
  double background = 0;  // kernel CPU seconds per second without our transfers
  if (kernel_repeats > 0) {
    const double expected = static_cast<double>(kernel_repeats * message_bytes) / out.median_bandwidth_Bps;
    wd.step("measuring the machine's quiet spell");
    const double b0 = kernel_cpu_seconds();
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(std::clamp(expected, 0.5, kKernelQuietMax)));
    const double b1 = kernel_cpu_seconds();
    if (b0 >= 0 && b1 >= b0) background = (b1 - b0) / seconds_since(t0);
  }
  // Both ways at once, as a server's traffic runs; several phases, since where the softirq
  // lands moves one phase's figure by a fifth on a shared machine.
  std::vector<double> shares;  // other work's share of each phase's kernel time
  for (int phase = 0; phase < kKernelPhases && kernel_repeats > 0; ++phase) {
    asio::write(s, asio::buffer(&kernel_repeats, sizeof kernel_repeats));
    const double k0 = kernel_cpu_seconds();
    const auto p0 = Clock::now();
    exchange_bulk_phase(s, wd, buf, kernel_repeats, "sending kernel-phase transfers", "receiving kernel-phase transfers");
    wd.step("waiting for the end of a kernel phase");
    asio::read(s, asio::buffer(&b, 1));
    const double k1 = kernel_cpu_seconds();
    const double phase_s = seconds_since(p0);
    if (k0 < 0 || k1 < k0) continue;
    const double moved = 2.0 * static_cast<double>(kernel_repeats) * static_cast<double>(message_bytes);
    out.kernel_phases_s.push_back(kernel_per_byte(k1 - k0, background * phase_s, moved));
    shares.push_back(k1 > k0 ? std::min(1.0, background * phase_s / (k1 - k0)) : 0);
  }
  const std::uint64_t no_more = 0;
  asio::write(s, asio::buffer(&no_more, sizeof no_more));
  out.same_machine = same_machine;
  if (same_machine) out.cores = usable_cpus();
  out.kernel_messages = kernel_repeats;
  out.kernel_byte_s = median(out.kernel_phases_s);
  out.kernel_background = median(shares);

  // The bulk phase again, a worker's step running beside it: the kernel's work comes in
  // batches that hold a core (a softirq runs to its budget before a task gets the core
  // back), so some steps beside a transfer are held up by a whole batch and others not at
  // all. Their spread is what the simulator's even share of the cores leaves out.
  const std::uint64_t beside_repeats = step ? kernel_repeats : 0;
  asio::write(s, asio::buffer(&beside_repeats, sizeof beside_repeats));
  if (beside_repeats > 0) out.beside_steps_s = steps_beside_transfers(s, wd, buf, beside_repeats, step);
  return out;
}

}  // namespace

std::size_t first_read_messages(std::size_t message_bytes) {
  constexpr double kProbeBytes = 64.0 * (1 << 20);
  const auto fit = static_cast<std::size_t>(kProbeBytes / static_cast<double>(std::max<std::size_t>(1, message_bytes)));
  return std::clamp<std::size_t>(fit, 8, 40);
}

std::size_t streamed_messages(std::size_t message_bytes) {
  constexpr double kStreamBytes = 8.0 * (1 << 20);
  const auto enough = static_cast<std::size_t>(std::ceil(kStreamBytes / static_cast<double>(std::max<std::size_t>(1, message_bytes))));
  return std::clamp<std::size_t>(enough, 4, 20);
}

namespace {

void check_sizes(std::size_t message_bytes, std::size_t round_trips, int repeats) {
  if (message_bytes == 0 || message_bytes > kMaxMessage || round_trips == 0 || repeats <= 0 || repeats > 1000)
    throw Error("calibrate: network sizes must be positive (message at most 4 GiB, at most 1000 repeats)");
}

// "a, b, c": each value times `scale`, three significant digits.
std::string number_list(const std::vector<double>& values, double scale) {
  std::string list;
  for (const double v : values) list.append(fmt::format("{}{:.3g}", list.empty() ? "" : ", ", v * scale));
  return list;
}

}  // namespace

double kernel_per_byte(double phase_cpu_s, double background_cpu_s, double bytes) {
  if (!(bytes > 0)) return 0;
  // Where other work made up much of the phase's kernel time, the difference is noise
  // (it even goes to zero or below on a busy machine): the whole time is kept, an upper
  // bound, and the fragment warns.
  if (background_cpu_s > kBusyKernelShare * phase_cpu_s) return phase_cpu_s / bytes;
  return (phase_cpu_s - background_cpu_s) / bytes;
}

std::size_t kernel_phase_messages(double rate, std::size_t message_bytes) {
  if (!(rate > 0) || message_bytes == 0) return 0;
  const double bytes = std::min(std::max(kKernelPhase * rate, kKernelBytes), kKernelPhaseMax * rate);
  return static_cast<std::size_t>(std::clamp<double>(std::ceil(bytes / static_cast<double>(message_bytes)), 1,
                                                     static_cast<double>(kMaxKernelRepeats)));
}

NetworkCalibration calibrate_loopback(std::size_t message_bytes, std::size_t round_trips, int repeats,
                                      const std::function<double()>& step) {
  check_sizes(message_bytes, round_trips, repeats);
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  std::exception_ptr peer_error;
  std::thread peer([&] {
    try {
      tcp::socket s(io);
      acceptor.accept(s);
      Watchdog wd(s, kDefaultPatience);
      serve_one(s, wd);
    } catch (...) {
      peer_error = std::current_exception();
    }
  });
  NetworkCalibration out;
  try {
    tcp::socket s(io);
    s.connect(acceptor.local_endpoint());
    Watchdog wd(s, kDefaultPatience);
    try {
      out = measure(s, wd, message_bytes, round_trips, repeats, true, step);
    } catch (const std::exception& e) {
      throw Error(wd.explain(e));
    }
  } catch (const std::exception& e) {
    acceptor.close();
    peer.join();
    throw Error(std::string("calibrate: loopback TCP test failed: ") + e.what());
  }
  peer.join();
  if (peer_error) std::rethrow_exception(peer_error);
  return out;
}

NetworkCalibration calibrate_peer(const std::string& host, int port, std::size_t message_bytes,
                                  std::size_t round_trips, int repeats, double patience_s,
                                  const std::function<double()>& step) {
  check_sizes(message_bytes, round_trips, repeats);
  const std::string where = host + ":" + std::to_string(port);
  asio::io_context io;
  tcp::socket s(io);
  try {
    tcp::resolver resolver(io);
    asio::connect(s, resolver.resolve(host, std::to_string(port)));
  } catch (const std::exception& e) {
    throw Error("calibrate: peer " + where + ": " + e.what());
  }
  Watchdog wd(s, patience_s);
  try {
    auto out = measure(s, wd, message_bytes, round_trips, repeats, false, step);
    out.peer = where;
    return out;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("calibrate: peer " + where + ": " + wd.explain(e));
  }
}

void serve_calibration(int port, int clients, void (*on_ready)(int port), double patience_s) {
  if (port < 0 || port > 65535) throw ConfigError("--serve", "port must be in 0..65535");
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(tcp::v4(), static_cast<unsigned short>(port)));
  if (on_ready) on_ready(acceptor.local_endpoint().port());
  for (int served = 0; clients == 0 || served < clients; ++served) {
    tcp::socket s(io);
    acceptor.accept(s);
    asio::error_code ec;
    const auto who = s.remote_endpoint(ec);
    Watchdog wd(s, patience_s);
    try {
      serve_one(s, wd);
    } catch (const std::exception& e) {
      // One broken client must not stop the server: say so and wait for the next.
      std::fprintf(stderr, "calibrate: client %s: %s\n", ec ? "?" : who.address().to_string().c_str(),
                   wd.explain(e).c_str());
    }
  }
}

std::string calibration_yaml(const ComputeCalibration& c, const NetworkCalibration& n, const SoftwareCalibration& s) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  std::string y;
  y += fmt::format("# Platform profile measured by `synclab calibrate` on {}.\n", when);
  y += fmt::format("# compute: model {}, batch {}, backend {}, {} thread(s): {:.4g} ms per forward+backward step\n",
                   c.model, c.batch, c.backend, c.threads, c.step_s * 1e3);
  y += fmt::format("#   (median of {} steps) = {:.4g} FLOP per step / step time = {:.4g} flop/s achieved.\n", c.steps,
                   c.step_flops, c.flops_per_s);
  y += "#   flops is that achieved rate, so efficiency is 1.\n";
  y += fmt::format("#   The first step of a fresh network took {:.4g} ms more (the backend's start-up): first_step.\n",
                   c.first_step_s * 1e3);
  if (!c.wait_s.empty()) {
    y += "#   A step after the thread slept (as a worker waiting for its parameters) took longer than\n"
         "#   the median: step_after_wait (medians, extra ms:";
    for (std::size_t i = 0; i < c.wait_s.size(); ++i)
      y += fmt::format(" {:g} ms: {:.3g}{}", c.wait_s[i] * 1e3, c.wait_extra_s[i] * 1e3, i + 1 < c.wait_s.size() ? ";" : ").\n");
  }
  y += fmt::format("#   Scoring a test sample as the PS does (fast backend, one thread): {:.4g} us: evaluate_sample.\n",
                   c.evaluate_sample_s * 1e6);
  y += fmt::format("# network: TCP to {}, latency = half the median round trip of {} 1-byte messages;\n",
                   n.peer.empty() ? "loopback" : n.peer, n.round_trips);
  if (n.streamed_messages > 0)
    y += fmt::format("#   bandwidth = the best rate of {} streams of {} messages of {} bytes sent back to back (the link's\n"
                     "#   sustained rate: a shaper's bucket and TCP's start spent once, not per message).\n",
                     kStreams, n.streamed_messages, n.message_bytes);
  if (n.best_bandwidth_Bps > 0)
    y += fmt::format("#   One message at a time: {:.4g} bytes/s at best, {:.4g} median.\n", n.best_bandwidth_Bps,
                     n.median_bandwidth_Bps);
  if (n.write_byte_s > 0)
    y += fmt::format("#   The first write() of each into the idle socket ({} bytes at most, as asio writes) took {:.6g} s\n"
                     "#   per byte (median; {:.3g} us per first write): write_byte, the time a server's thread spends\n"
                     "#   on one reply before it writes the next one's first chunk.\n",
                     kSocketWriteChunk, n.write_byte_s,
                     n.write_byte_s * static_cast<double>(std::min<std::uint64_t>(n.message_bytes, kSocketWriteChunk)) * 1e6);
  if (n.window_bytes > 0)
    y += "#   windows = the sender's congestion window after each of them (TCP_INFO snd_cwnd x snd_mss):\n"
         "#   what one flow keeps in flight on this path; the packet network model draws each transfer's\n"
         "#   window from them (window = their median, used where one window is wanted).\n";
  if (!n.congestion.empty()) y += fmt::format("#   The sender's congestion control: {}", n.congestion);
  if (n.bbr_bandwidth_Bps > 0)
    y += fmt::format("; its bandwidth estimate after a transfer: median {:.4g} bytes/s, {:.2g}x the bandwidth",
                     n.bbr_bandwidth_Bps, n.bbr_bandwidth_Bps / n.bandwidth_Bps);
  if (!n.congestion.empty()) y += ".\n";
  if (n.bbr_min_rtt_s > 0)
    y += fmt::format("#   Its min RTT after them: {:.4g} us: sim.packet.rtt, the round trip its ACKs take (the receiving\n"
                     "#   kernel acknowledges, no process is woken; the latency above carries two wake-ups).\n",
                     n.bbr_min_rtt_s * 1e6);
  if (n.congestion == "bbr")
    y += "#   So the packet model runs BBR's windows per connection (sim.packet.congestion: bbr; the measured\n"
         "#   windows serve `measured`). BBR paces near its estimate: where it runs far above the link, as\n"
         "#   through a shaper's bucket, its pacing does not bind (docs/simulator.md).\n";
  if (n.congestion == "bbr" && n.gso_max_size > 0)
    y += fmt::format("#   gso = the largest GSO packet of the interface it sends by ({} bytes, rtnetlink): it caps a\n"
                     "#   TSO burst, and so the small-queue limit (sim.packet.small_queues).\n",
                     n.gso_max_size);
  if (!n.first_reads_s.empty())
    y += fmt::format("#   first_reads = of {} messages each sent after a rest of 1-3 ms (the peer's thread asleep in its\n"
                     "#   read), how long the ACK of its first GSO packet took, less the kernel's min RTT (SO_TIMESTAMPING,\n"
                     "#   TX_ACK): Linux acknowledges at once only while the offered window keeps up, which takes a read.\n"
                     "#   Median {:.3g} us; the packet model's receivers hold a message's first ACK a drawn one of these.\n",
                     n.first_reads_s.size(), median(n.first_reads_s) * 1e6);
  if (n.same_machine)
    y += fmt::format("#   The peer runs on this machine's kernel, so every host shares its {} cores: colocated_cores.\n"
                     "#   kernel_byte = system + irq + softirq time of the machine per byte over a bulk phase of {} messages\n"
                     "#   each way at once, as a server's pushes and replies (at least {:g} s and {:g} MiB, at most {:g} s:\n"
                     "#   /proc/stat counts in ticks), less the machine's rate of it over a quiet spell before (here\n"
                     "#   {:.0f}% of the phase's); the median of {} such phases ({} ns per byte).\n",
                     n.cores, n.kernel_messages, kKernelPhase, kKernelBytes / (1 << 20), kKernelPhaseMax,
                     100 * n.kernel_background, n.kernel_phases_s.size(), number_list(n.kernel_phases_s, 1e9));
  if (const auto q = beside_kernel_quantiles(n.beside_steps_s, c.step_s); !q.empty()) {
    double mean = 0;
    for (const double t : n.beside_steps_s) mean += t;
    mean /= static_cast<double>(n.beside_steps_s.size());
    y += fmt::format("#   step_beside_kernel = the spread of a step's extra time beside that phase run again ({} steps,\n"
                     "#   mean {:.4g} ms against {:.4g} ms quiet): {} quantiles of the extra over their mean.\n",
                     n.beside_steps_s.size(), mean * 1e3, c.step_s * 1e3, q.size());
  }
  if (n.wake_probes > 0)
    y += fmt::format("#   wake_on_busy_core = of {} wake-ups of a thread (last run on an idle core) by a one-byte write\n"
                     "#   from another core that then stayed busy {:g} ms, the share that waited for the waker's core\n"
                     "#   (half of that or more): how often this kernel leaves a woken thread on a busy core. Left as a\n"
                     "#   comment: the fidelity grids came out no closer with it (docs/fidelity.md, \"Woken on a busy\n"
                     "#   core\"); uncomment it to model the wait.\n",
                     n.wake_probes, n.wake_busy_s * 1e3);
  if (n.same_machine && n.kernel_background > kBusyKernelShare)
    y += "#   WARNING: other work on this machine made up much of that kernel time, so none was taken off\n"
         "#   (kernel_byte is an upper bound); calibrate on a quiet machine for a sure figure.\n";
  y += fmt::format("# software: the real executor's code timed on {} ({} parameters), median of at least {} runs\n",
                   s.model, s.params, s.repeats);
  y += "#   each: seconds per parameter per update, per push folded in, per message and per byte\n";
  y += "#   encoded / received, per byte of the evaluation snapshot (docs/simulator.md, Software costs).\n";
  if (!s.timed_s.empty()) {
    std::string times;
    for (const auto& [what, seconds] : s.timed_s) times.append(fmt::format("{}{} {:.3g} us", times.empty() ? "" : "; ", what, seconds * 1e6));
    y += "#   timed (medians): " + times + "\n";
  }
  y += "# Use: `merge: [this file]` in a sweep, paste into a run config, or pass as\n";
  y += fmt::format("#   --set cluster.gpu.flops={:.6g} --set cluster.gpu.efficiency=1 --set cluster.link.bandwidth={:.6g} "
                   "--set cluster.link.latency={:.6g}\n",
                   c.flops_per_s, n.bandwidth_Bps, n.latency_s);
  y += "cluster:\n";
  if (n.same_machine && n.cores > 0) y += fmt::format("  colocated_cores: {}\n", n.cores);
  y += fmt::format("  gpu: {{flops: {:.6g}, efficiency: 1.0}}\n", c.flops_per_s);
  y += fmt::format("  link: {{bandwidth: {:.6g}, latency: {:.6g}}}\n", n.bandwidth_Bps, n.latency_s);
  const SoftwareCostSpec& sw = s.costs;
  y += "  software:\n";
  y += fmt::format("    apply: {{sgd: {:.6g}, momentum: {:.6g}, adam: {:.6g}}}\n", sw.apply_sgd, sw.apply_momentum, sw.apply_adam);
  y += fmt::format("    aggregate: {:.6g}\n", sw.aggregate);
  y += fmt::format("    send_message: {:.6g}\n", sw.send_message);
  y += fmt::format("    send_byte: {:.6g}\n", sw.send_byte);
  y += fmt::format("    receive_message: {:.6g}\n", sw.receive_message);
  y += fmt::format("    receive_byte: {:.6g}\n", sw.receive_byte);
  y += fmt::format("    snapshot_byte: {:.6g}\n", sw.snapshot_byte);
  y += fmt::format("    first_step: {:.6g}\n", c.first_step_s);
  y += fmt::format("    evaluate_sample: {:.6g}\n", c.evaluate_sample_s);
  y += fmt::format("    kernel_byte: {:.6g}\n", n.kernel_byte_s);
  if (n.wake_probes > 0) y += fmt::format("    # wake_on_busy_core: {:.4g}\n", n.wake_on_busy_core);
  if (n.write_byte_s > 0) y += fmt::format("    write_byte: {:.6g}\n", n.write_byte_s);
  if (!c.wait_s.empty()) {
    std::string waits, extra;
    for (std::size_t i = 0; i < c.wait_s.size(); ++i) {
      waits.append(fmt::format("{}{:.6g}", i ? ", " : "", c.wait_s[i]));
      extra.append(fmt::format("{}{:.6g}", i ? ", " : "", c.wait_extra_s[i]));
    }
    y += fmt::format("    step_after_wait: {{waits: [{}], extra: [{}]}}\n", waits, extra);
  }
  if (const auto q = beside_kernel_quantiles(n.beside_steps_s, c.step_s); !q.empty()) {
    std::string list;
    for (const double v : q) list.append(fmt::format("{}{:.4g}", list.empty() ? "" : ", ", v));
    y += fmt::format("    step_beside_kernel: [{}]\n", list);
  }
  // At least two packets of the default segment: the config refuses less. Where the kernel
  // runs BBR, the packet model runs its windows per connection (the measured ones stay, for
  // `sim.packet.congestion: measured`).
  std::string congestion = n.congestion == "bbr" ? "congestion: bbr" : "";
  if (!congestion.empty() && n.gso_max_size > 0) congestion += fmt::format(", gso: {}", n.gso_max_size);
  if (!congestion.empty() && n.bbr_min_rtt_s > 0) congestion += fmt::format(", rtt: {:.6g}", n.bbr_min_rtt_s);
  if (!n.first_reads_s.empty()) {
    // Sorted, to read; each transfer draws one of them at random.
    std::vector<double> reads = n.first_reads_s;
    std::sort(reads.begin(), reads.end());
    congestion += fmt::format("{}first_reads: [{}]", congestion.empty() ? "" : ", ", number_list(reads, 1));
  }
  if (n.window_bytes > 0) {
    std::string list;
    for (const double w : n.windows) list.append(fmt::format("{}{:.0f}", list.empty() ? "" : ", ", std::max(w, 2.0 * 1448)));
    y += fmt::format("sim:\n  packet: {{window: {:.0f}, windows: [{}]{}}}\n", std::max(n.window_bytes, 2.0 * 1448), list,
                     congestion.empty() ? "" : ", " + congestion);
  } else if (!congestion.empty()) {
    y += "sim:\n  packet: {" + congestion + "}\n";
  }
  return y;
}

}  // namespace synclab::experiments
