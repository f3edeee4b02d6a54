#pragma once
// A parameter-server shard's one thread, in simulated time. The real server handles its
// events one at a time on one thread (receive a frame, run the policy, apply, encode the
// replies); with software costs charged (cluster.software), a shard's events are served
// here in arrival order, each keeping the thread busy for the simulated seconds it costs.
// An idle thread runs a free event at once in the calling actor, exactly as a run without
// software costs always did.
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include <simgrid/s4u/Semaphore.hpp>

#include "sim/machine_cpu.hpp"

namespace simgrid::s4u {
class Host;
}

namespace synclab::sim {

class ServerThread {
 public:
  /// What an event left to do once the thread has spent `seconds` on it.
  struct Outcome {
    double seconds = 0;            ///< busy time of the event's decisions (apply, encoding replies)
    std::function<void()> effect;  ///< runs when that time has passed (may be empty)
    double after = 0;              ///< busy time after the effect (writing the replies it started; wall time, not the cores')
  };
  using Work = std::function<Outcome()>;

  /// host: where the thread's actor runs; cpu: where its seconds are spent (outlives the
  /// thread); on_error: called with the message of an exception that work or an effect
  /// throws inside that actor (a caller's own exceptions propagate).
  ServerThread(simgrid::s4u::Host* host, const MachineCpu& cpu, std::string name,
               std::function<void(const std::string&)> on_error);
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  /// Serves an event once everything submitted before it is done: `before` seconds (its
  /// receipt), then work() (the policy's decisions), then the outcome's seconds, then its
  /// effect, then the outcome's `after` seconds. woken_on: the core whose packets brought
  /// the event (SIZE_MAX: none); an idle thread is woken there (MachineCpu::woken_on).
  void submit(double before, Work work, std::size_t woken_on = SIZE_MAX);
  /// True when nothing is being served or waits.
  bool idle() const { return !running_ && items_.empty(); }

 private:
  struct Item {
    double before = 0;
    Work work;
    std::optional<Outcome> decided;  // work already ran (in the caller); only its time is left
    std::size_t woken_on = SIZE_MAX;   // the core that woke the idle thread for it
  };
  void enqueue(Item item);
  void serve();

  simgrid::s4u::Host* host_;
  const MachineCpu& cpu_;
  std::string name_;
  std::function<void(const std::string&)> on_error_;
  std::deque<Item> items_;
  bool running_ = false;
  simgrid::s4u::SemaphorePtr ready_;  // released once per queued item
  bool started_ = false;              // its actor starts on the first event that takes time
};

}  // namespace synclab::sim
