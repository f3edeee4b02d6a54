#include "sim/machine_cpu.hpp"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Host.hpp>

namespace sg = simgrid::s4u;

namespace synclab::sim {

void MachineCpu::spend(double seconds) const {
  if (seconds <= 0) return;
  if (!shared()) {
    sg::this_actor::sleep_for(seconds);
    return;
  }
  sg::this_actor::exec_init(seconds)->set_host(machine_)->wait();
}

sg::ExecPtr MachineCpu::start(double seconds) const {
  if (!shared() || seconds <= 0) return nullptr;
  return sg::this_actor::exec_init(seconds)->set_host(machine_)->start();
}

void finish(sg::ExecPtr& work) {
  if (!work) return;
  work->wait();
  work = nullptr;
}

}  // namespace synclab::sim
