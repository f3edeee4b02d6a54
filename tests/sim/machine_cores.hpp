#pragma once
// A shared machine for tests of sim/machine_cpu.hpp and what runs on it: a fresh SimGrid
// engine in a forked child, with one host per core of speed 1 (a flop is a second of one
// core's work).
#include <simgrid/s4u.hpp>

#include <string>
#include <vector>

#include "sim/network_model.hpp"
#include "tests/sim/run_in_child.hpp"

namespace synclab::sim::testing {

/// Runs fn(cores, engine) in a child on a machine of `cores` cores; returns fn's answer.
template <class Fn>
std::string run_on_cores(int cores, Fn fn) {
  return run_in_child([&] {
    configure_contexts();
    simgrid::s4u::Engine engine("test");
    configure_engine({});
    simgrid::s4u::NetZone* zone = simgrid::s4u::create_star_zone("machine");
    std::vector<simgrid::s4u::Host*> hosts;
    for (int i = 0; i < cores; ++i) hosts.push_back(zone->create_host("core-" + std::to_string(i), 1.0)->seal());
    zone->seal();
    return fn(hosts, engine);
  });
}

}  // namespace synclab::sim::testing
