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
//   hands a transfer's work out in pieces as its bytes arrive.
#include <cstdint>
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
  /// use at once (>= 1 or <= 0: a whole core); seed: the placement draws.
  MachineCpu(std::vector<simgrid::s4u::Host*> cores, double kernel_rate, std::uint64_t seed);
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

  std::vector<simgrid::s4u::Host*> cores_;
  double kernel_rate_ = 0;
  mutable Rng rng_{1};
  mutable Pieces work_;
  mutable std::vector<std::size_t> open_;  // transfers whose kernel work is open, per core
};

}  // namespace synclab::sim
