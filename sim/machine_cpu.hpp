#pragma once
// Where the simulated software spends its seconds (steps, a shard's thread, encoding and
// parsing messages, the kernel's side of each transfer). Every host has a CPU of its own
// by default, and nothing else runs on it: spending is a plain wait, as it always was. With
// cluster.colocated_cores every host runs on one machine of that many cores (a one-machine
// testbed), and each core is simulated on its own:
// - a process's piece of work (a step, a shard's event, an encoding) starts on the core
//   that runs the fewest such pieces (ties drawn from a seeded stream, as a waking task
//   lands on whichever idle core the scheduler finds) and stays there; pieces on one core
//   share it equally;
// - a transfer's kernel work runs on one core too (the one with the fewest transfers open,
//   ties drawn: a flow's packets are one core's), and before any process's work there: the
//   kernel moves packets in softirq context, which interrupts whatever task runs on that
//   core and is charged to it, while another core may sit idle. Each piece of it moves at
//   most as fast as packets come at the link's rate (kernel_rate cores:
//   cluster.software.kernel_byte x the link's byte rate), so a step that shares its core
//   with a full-rate transfer runs at 1 - kernel_rate of a core. sim/kernel_pacer.hpp
//   hands a transfer's work out in pieces as its bytes arrive;
// - a process woken by a transfer's packets (woken_on) is woken on the core that moved them:
//   where the kernel sees no cache shared between cores, a sync wake-up stays on the
//   waker's core: its next piece runs there, at once where no process's piece does; on a
//   busy core, with probability wake_on_busy (calibrated) it waits there until the pieces
//   running on that core now are done, though another core may idle, and else it starts
//   as any piece does.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include <simgrid/s4u/Exec.hpp>

#include "core/common/rng.hpp"

namespace simgrid::s4u {
class Host;
}

namespace synclab::sim {

class MachineCpu {
 public:
  /// No shared machine: every host has a CPU of its own.
  MachineCpu() = default;
  /// cores: the shared machine's cores (Platform::cores: speed 1 flop/s each, so that a
  /// flop is a second of one core's work); kernel_rate: cores a transfer's kernel work may
  /// use at once (>= 1 or <= 0: a whole core); seed: the placement draws; wake_on_busy:
  /// the fraction of wake-ups on a busy core that wait for it (cluster.software.wake_on_busy_core).
  MachineCpu(std::vector<simgrid::s4u::Host*> cores, double kernel_rate, std::uint64_t seed, double wake_on_busy = 0);
  /// True when the hosts share one machine's cores.
  bool shared() const { return !cores_.empty(); }
  /// Spends `seconds` of one core's work, blocking the calling actor (shared: as long as
  /// the core it lands on lets it take).
  void spend(double seconds) const;
  /// Starts `seconds` of a process's work on the shared machine now and returns it;
  /// nullptr when the machine is not shared or seconds <= 0 (nothing to wait for).
  simgrid::s4u::ExecPtr start(double seconds) const;
  /// Opens a transfer's kernel work and returns the core all of it runs on: the one with
  /// the fewest transfers open, ties drawn (0 when the machine is not shared).
  std::size_t open_kernel() const;
  /// The calling process was woken by the packets `core` moved (a transfer it waited for
  /// ended): its next piece starts as said above; a core past the last (SIZE_MAX) forgets
  /// a wake-up no piece followed; no-op when the machine is not shared.
  void woken_on(std::size_t core) const;
  /// Closes a transfer's kernel work opened on `core`.
  void close_kernel(std::size_t core) const;
  /// Starts `seconds` of a transfer's kernel work on `core` now (see above); nullptr as start().
  simgrid::s4u::ExecPtr start_kernel(double seconds, std::size_t core) const;

 private:
  using Pieces = std::vector<std::vector<simgrid::s4u::ExecPtr>>;  // per core, running
  /// The core whose list holds the fewest running pieces, ties drawn; returns its index.
  std::size_t least_busy(Pieces& pieces) const;
  /// The index of the smallest count, ties drawn from the placement stream.
  std::size_t fewest(const std::vector<std::size_t>& counts) const;
  /// A new piece of `seconds` on the least busy core of `pieces`, recorded there, not started.
  simgrid::s4u::ExecPtr place(double seconds, Pieces& pieces) const;
  /// The core the calling process was woken on, if its next piece must run there: after
  /// waiting (in simulated time) for the pieces running there now; SIZE_MAX otherwise.
  std::size_t settle_wake() const;
  /// Seconds until `core` has done the process pieces running on it now, at a whole core.
  double backlog(std::size_t core) const;

  std::vector<simgrid::s4u::Host*> cores_;
  double kernel_rate_ = 0;
  mutable Rng rng_{1};
  mutable Pieces work_;
  mutable std::vector<std::size_t> open_;  // transfers whose kernel work is open, per core
  double wake_on_busy_ = 0;
  mutable std::unordered_map<long, std::size_t> woken_;  // actor pid -> core it was woken on
};

}  // namespace synclab::sim
