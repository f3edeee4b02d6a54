#pragma once
// How this machine's kernel places a thread woken by another core's work: where the
// cores share no cache as the kernel sees them (a VM whose vCPUs show no cache topology),
// a sync wake-up (a socket's data ready) puts the woken thread on the waker's core, which
// may be busy while another idles, and the woken thread waits there
// (cluster.software.wake_on_busy_core, docs/simulator.md "Hosts that share a machine").
#include <cstddef>
#include <vector>

namespace synclab::experiments {

struct WakeProbe {
  double fraction = 0;         ///< share of the wake-ups whose thread waited for the busy waker's core
  std::size_t wakeups = 0;     ///< wake-ups timed (0: fewer than 2 cores to run on, nothing measured)
  double busy_s = 0;           ///< seconds the waker's core stayed busy after each write
  std::vector<double> delays;  ///< seconds from each write to the woken thread running, in order
};

/// The waker's work after each write, seconds: long beside a wake-up from idle (tens of
/// microseconds), short beside the kernel's load tracking (32 ms half-life), so its core
/// counts as lightly loaded, as a shared machine's cores are in a run.
constexpr double kWakeBusy = 1e-3;

/// A receiver thread blocked on a socket pair, its last run on one core, is woken by a
/// one-byte write from a thread on another core, which then computes for busy_s; after
/// each, both rest 1 to 3 ms (drawn). A wake-up waited for the waker's core when the
/// receiver ran busy_s / 2 or more after the write. Runs on the first two cores this
/// process may use; fewer than 2: nothing is measured (wakeups 0). Throws Error when the
/// socket pair or a thread's core cannot be set up.
WakeProbe probe_wake_on_busy_core(double busy_s = kWakeBusy, std::size_t wakeups = 300);

/// The share of `delays` (seconds) at busy_s / 2 or more; 0 for none.
double waited_share(const std::vector<double>& delays, double busy_s);

}  // namespace synclab::experiments
