#pragma once
// A transfer's kernel work on the shared machine (cluster.colocated_cores), charged as its
// bytes arrive. The kernel moves each packet when it comes (in softirq context), so a
// transfer that shares the link with others spends its kernel work over the whole time it
// takes, at the pace of its own bytes, not of the link's. Every tick of a transfer, the
// work of the bytes expected in the next tick (at the rate of the last one; the link's
// rate in the first) starts as a piece on the one core the transfer's work runs on, as a
// flow's packets are one core's (MachineCpu::open_kernel). When the transfer ends, its
// receiver charges whatever the ticks missed and waits until its core has caught up with
// all of it: a core that falls behind the bytes holds the message.
#include <cstdint>
#include <memory>
#include <vector>

#include <simgrid/s4u/Exec.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/machine_cpu.hpp"
#include "sim/network_model.hpp"

namespace synclab::sim {

class KernelPacer {
 public:
  /// One followed transfer's kernel work.
  struct Share {
    TransferPtr transfer;
    std::uint64_t bytes = 0;
    double per_byte = 0;        // seconds of one core's work per byte
    std::size_t core = 0;       // where all of it runs
    std::uint64_t charged = 0;  // bytes whose work has been started
    std::uint64_t seen = 0;     // bytes delivered at the last tick
    double next = 0;            // time of its next tick
    std::vector<simgrid::s4u::ExecPtr> pieces;  // started; waited for when the transfer ends
    bool closed = false;        // finished or cancelled: the pacer lets go of it
  };
  using SharePtr = std::shared_ptr<Share>;

  /// cpu: the shared machine (outlives this; not shared: follow() charges nothing); host:
  /// where the pacer's daemon actor lives (the engine must exist and not run yet); tick:
  /// seconds between a transfer's charges (> 0); link_rate: bytes/s a transfer moves at
  /// most, which its first tick assumes.
  KernelPacer(const MachineCpu& cpu, simgrid::s4u::Host* host, double tick, double link_rate);
  /// Follows `transfer` of `bytes`, just started, charging `seconds` of kernel work over
  /// its bytes as they arrive; nullptr when there is nothing to charge.
  SharePtr follow(TransferPtr transfer, std::uint64_t bytes, double seconds);
  /// Charges what `share` has left (its transfer is done) and waits for all of its work,
  /// then drops it; no-op for nullptr.
  void finish(SharePtr& share);
  /// Takes `share`'s work off the cores (a crashed peer); no-op for nullptr.
  void cancel(const SharePtr& share);

 private:
  void run();
  /// Starts the work of `share`'s bytes up to `upto`.
  void charge(Share& share, std::uint64_t upto);

  const MachineCpu& cpu_;
  double tick_, link_rate_;
  std::vector<SharePtr> shares_;
  simgrid::s4u::SemaphorePtr wake_;  // released by follow() while the pacer waits
  bool poked_ = false;
};

}  // namespace synclab::sim
