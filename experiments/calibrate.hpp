#pragma once
// `synclab calibrate`: measures this machine (compute speed of a model's training step on
// a backend, loopback TCP latency and bandwidth, the real executor's software costs) and
// writes a platform fragment the simulator accepts: cluster.gpu {flops, efficiency},
// cluster.link {bandwidth, latency} and cluster.software.
#include <cstddef>
#include <functional>
#include <vector>
#include <string>

#include "core/config/run_config.hpp"

namespace synclab::experiments {

struct ComputeCalibration {
  std::string model;            ///< model name (trainable: softmax | mlp | cnn)
  std::string backend;          ///< reference | fast | cuda
  std::size_t batch = 0;
  int threads = 1;
  std::size_t steps = 0;        ///< timed forward+backward steps
  double step_s = 0;            ///< median seconds per step
  double first_step_s = 0;      ///< how much longer a fresh network's first step takes (the backend's start-up)
  std::vector<double> wait_s;        ///< waits before a step, increasing (seconds)
  std::vector<double> wait_extra_s;  ///< how much longer than step_s the step after each wait took (median, clamped at 0)
  double evaluate_sample_s = 0; ///< seconds per test sample scored as the real PS scores (fast backend, one thread)
  double step_flops = 0;        ///< cost model FLOPs of one step (forward + backward)
  double flops_per_s = 0;       ///< step_flops / step_s: the achieved rate
};

struct NetworkCalibration {
  double latency_s = 0;         ///< half the median round trip of 1-byte messages
  /// The link's sustained one-way rate, bytes/s: the best of three streams of
  /// streamed_messages messages sent back to back (a shaper's bucket and TCP's start are
  /// then a small part of the time).
  double bandwidth_Bps = 0;
  std::size_t streamed_messages = 0;  ///< how many messages each stream held
  double best_bandwidth_Bps = 0;      ///< best rate of the message_bytes transfers sent one at a time, bytes/s
  double median_bandwidth_Bps = 0;    ///< their median rate (how much the transfers vary), bytes/s
  double window_bytes = 0;      ///< median sender congestion window after a transfer (cwnd x MSS); 0: unknown
  std::vector<double> windows;  ///< that window after each transfer, in order (bytes); empty: unknown
  std::string congestion;       ///< the sender's congestion control ("bbr", "cubic"; empty: unknown)
  double bbr_bandwidth_Bps = 0; ///< with bbr: median of its bandwidth estimate after each transfer, bytes/s; else 0
  /// With bbr: its min RTT after the transfers (s; the kernel's round trip: an ACK sent in the
  /// receiver's softirq, no process woken, as every sample BBR takes); else 0.
  double bbr_min_rtt_s = 0;
  std::uint64_t gso_max_size = 0; ///< GSO size of the interface the sender sends by (bytes; 0: unknown)
  /// Seconds per byte of the first write() of each transfer into the idle socket (at most
  /// kSocketWriteChunk bytes, as asio writes; per byte the socket took at once), median over
  /// the transfers: a sender thread's time on one message before it turns to the next
  /// (cluster.software.write_byte); 0: none measured.
  double write_byte_s = 0;
  /// Seconds from the first segment of a message reaching the peer, its thread asleep in
  /// its read, to the peer's ACK of it leaving (the ACK's delay less the kernel's min RTT),
  /// one per message of the first-read probe (first_read_messages), in order
  /// (sim.packet.first_reads); empty
  /// where the kernel gives no ACK stamps.
  std::vector<double> first_reads_s;
  std::size_t message_bytes = 0;
  std::size_t round_trips = 0;
  std::string peer;             ///< "host:port" measured against; empty = loopback
  /// The peer runs on this machine's kernel (loopback, or the same boot id: another
  /// network namespace or container of this machine), so both ends share its cores.
  bool same_machine = false;
  int cores = 0;                ///< CPUs this process may run on (where same_machine)
  /// CPU seconds the kernel spent per byte moved, both ends (/proc/stat system, irq and
  /// softirq time over a bulk phase of kernel_phase_messages() each way at once, as a
  /// server's pushes in and replies out, less the machine's own rate of it before): the
  /// median of kKernelPhases such phases; 0 unless same_machine.
  double kernel_byte_s = 0;
  std::vector<double> kernel_phases_s;  ///< that figure for each phase, in order (empty: none)
  std::size_t kernel_messages = 0;  ///< messages each way of each phase (0: none)
  /// Share of the phase's kernel time that the machine's other work would have spent
  /// anyway (its rate over a quiet spell before the phase), taken off kernel_byte_s up to
  /// kBusyKernelShare (kernel_per_byte).
  double kernel_background = 0;
  /// Seconds of each worker step timed while the kernel phase ran again beside it (with a
  /// step to time and a peer on this machine's kernel; else empty).
  std::vector<double> beside_steps_s;
  /// Of the wake-ups of a thread by a busy core, the share that waited for that core though
  /// another idled (experiments/wake_probe.hpp; cluster.software.wake_on_busy_core); 0
  /// unless same_machine with 2 cores or more.
  double wake_on_busy_core = 0;
  std::size_t wake_probes = 0;  ///< wake-ups that share is of (0: not measured)
  double wake_busy_s = 0;       ///< the waker's work after each write in that probe, seconds
};

/// The spread of a step's extra time beside a transfer (cluster.software.step_beside_kernel):
/// each step's seconds less the quiet step's, at least 0, at `n` equally spaced
/// probabilities ((k + 0.5) / n, interpolated), over the mean of those quantiles. Empty
/// with fewer than 2n steps or no extra time at all.
std::vector<double> beside_kernel_quantiles(std::vector<double> steps_s, double quiet_s, std::size_t n = 20);

/// Kernel-cost phases calibrate runs: one phase's figure moves by a fifth from one to the
/// next on a shared machine (where the softirq lands), their median much less.
constexpr int kKernelPhases = 3;

/// Above this share of other work in the kernel phase, calibrate says kernel_byte is unsure.
constexpr double kBusyKernelShare = 0.25;

/// Kernel CPU per byte of a bulk phase: its CPU seconds less what the machine's other work
/// spent meanwhile, over the bytes moved; where that other work is above kBusyKernelShare
/// of the phase's time, the whole time (an upper bound: never 0 on a busy machine). 0 for
/// no bytes.
double kernel_per_byte(double phase_cpu_s, double background_cpu_s, double bytes);

/// Messages of message_bytes in the kernel-cost phase at `rate` bytes/s: at least half a
/// second and 64 MiB of them, so that /proc/stat's 10 ms ticks add up to tens (at 100
/// Mb/s the kernel's work over half a second is one or two ticks), but at most 8 s of
/// them; at least 1. 0 for a rate that is not positive.
std::size_t kernel_phase_messages(double rate, std::size_t message_bytes);

struct SoftwareCalibration {
  std::string model;            ///< model whose size every rate was measured at
  std::size_t params = 0;       ///< its parameters (floats)
  std::size_t repeats = 0;      ///< timed repetitions per figure, at least (median taken)
  SoftwareCostSpec costs;       ///< the rates, as cluster.software holds them
  /// The median times the rates are derived from, in the order taken ("send push", ...,
  /// "update adam, 4 pushes"). A rate is a difference of two of them, clamped at 0: on a
  /// busy machine a small difference can vanish in the noise, the times themselves cannot.
  std::vector<std::pair<std::string, double>> timed_s;
};

/// Times a worker's step (after warm-up) until min_seconds have passed (at least 3 steps):
/// a batch drawn at random from `samples` synthetic training samples (at most 256 MB of
/// them), as a worker's sampler draws it, then forward+backward. Then the step after each
/// of a series of waits (0.25 to 64 ms, the thread asleep, as a worker waiting for its
/// parameters): the median of at least 15 steps and min_seconds / 10 per wait. Throws Error for
/// an unknown model or backend, ConfigError for a zero batch or samples.
class StepBench;
/// The same on a bench not yet stepped (its first step is the start-up's); the bench stays
/// warm for more steps (calibrate times it again beside the kernel phase).
ComputeCalibration calibrate_compute(StepBench& bench, const std::string& model, const std::string& backend,
                                     int threads, double min_seconds);
ComputeCalibration calibrate_compute(const std::string& model, const std::string& backend, std::size_t batch,
                                     int threads, double min_seconds, std::size_t samples = 60000);

/// Messages of `message_bytes` in the first-read probe: 40, fewer where they would pass 64
/// MiB (a large model's calibration stays minutes), at least 8.
std::size_t first_read_messages(std::size_t message_bytes);

/// Messages of `message_bytes` that each bandwidth stream sends back to back: enough for 8 MiB,
/// at least 4 and at most 20.
std::size_t streamed_messages(std::size_t message_bytes);

/// Ping-pong between two threads over a loopback TCP connection: round_trips 1-byte
/// exchanges for latency, then `repeats` transfers of message_bytes one at a time (windows,
/// the first write) and three streams of streamed_messages(message_bytes) for bandwidth.
/// With `step` (one timed worker step, seconds), the transfers of the kernel phase are run
/// again with it looping beside them (beside_steps_s).
NetworkCalibration calibrate_loopback(std::size_t message_bytes, std::size_t round_trips, int repeats,
                                      const std::function<double()>& step = {});

/// Seconds one step of a measurement (a ping, a transfer, a wait for the other end) may
/// last before the other end counts as gone: a message must cross the link within it.
constexpr double kDefaultPatience = 120;

/// The same measurement against `synclab calibrate --serve PORT` running on host.
/// Throws Error naming host:port when it cannot connect or the peer breaks off, and the
/// step it waited in when one lasts patience_s seconds (a peer that stops answering).
NetworkCalibration calibrate_peer(const std::string& host, int port, std::size_t message_bytes,
                                  std::size_t round_trips, int repeats, double patience_s = kDefaultPatience,
                                  const std::function<double()>& step = {});

/// Serves measurements on port (all interfaces), one client at a time; returns after
/// `clients` clients (0 = forever). on_ready is called with the bound port. A client whose
/// step lasts patience_s seconds is dropped with a line naming the step, as a broken one is.
void serve_calibration(int port, int clients, void (*on_ready)(int port), double patience_s = kDefaultPatience);

/// Times the real executor's code on model-sized buffers (median of at least `repeats`
/// runs each, more while under min_seconds): frame encoding and parsing of a push against
/// a pull request (per byte, per message), the server core's update with each optimizer
/// and with four pushes folded in, the evaluation snapshot's copy. Throws ConfigError for
/// an unknown model or repeats < 1.
SoftwareCalibration calibrate_software(const std::string& model, int repeats, double min_seconds);

/// The YAML fragment (with comments saying what was measured and how to use it).
std::string calibration_yaml(const ComputeCalibration& c, const NetworkCalibration& n, const SoftwareCalibration& s);

}  // namespace synclab::experiments
