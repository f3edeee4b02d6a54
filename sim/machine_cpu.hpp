#pragma once
// Where the simulated software spends its seconds (steps, a shard's thread, encoding and
// parsing messages, the kernel's side of each transfer). Every host has a CPU of its own
// by default, and nothing else runs on it: spending is a plain wait, as it always was. With
// cluster.colocated_cores every host runs on one machine of that many cores (a one-machine
// testbed): each piece of work is an execution on that machine, SimGrid shares its cores
// among whatever runs at the same instant (a piece gets at most one core), and work that
// overlaps takes longer.
#include <simgrid/s4u/Exec.hpp>

namespace simgrid::s4u {
class Host;
}

namespace synclab::sim {

class MachineCpu {
 public:
  /// machine: the shared machine (Platform::machine: speed 1 flop/s, N cores), or nullptr.
  explicit MachineCpu(simgrid::s4u::Host* machine) : machine_(machine) {}
  /// True when the hosts share one machine's cores.
  bool shared() const { return machine_ != nullptr; }
  /// Spends `seconds` of one core's work, blocking the calling actor (shared: as long as
  /// the machine's other work lets it take).
  void spend(double seconds) const;
  /// Starts `seconds` of one core's work on the shared machine now and returns it;
  /// nullptr when the machine is not shared or seconds <= 0 (nothing to wait for).
  simgrid::s4u::ExecPtr start(double seconds) const;

 private:
  simgrid::s4u::Host* machine_;
};

/// Waits for `work` when there is some (MachineCpu::start's result) and drops it.
void finish(simgrid::s4u::ExecPtr& work);

}  // namespace synclab::sim
