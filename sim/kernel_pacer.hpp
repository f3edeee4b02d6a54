#pragma once
// A transfer's kernel work on the shared machine (cluster.colocated_cores), charged as its
// bytes arrive. The kernel moves each packet when it comes (in softirq context), so a
// transfer that shares the link with others spends its kernel work over the whole time it
// takes, at the pace of its own bytes, not of the link's. The work goes out in pieces on
// the one core the transfer's work runs on (a flow's packets are one core's:
// MachineCpu::open_kernel): when a transfer starts, the work of its first chunk; then, on
// every tick (a chunk's time at the link's rate), if what it has plus what the next tick
// will likely bring (as much as the last) is more than has been charged, the work up to
// there, a chunk at least. When the transfer ends, its receiver charges whatever is left
// and waits until its core has caught up with all of it: a core that falls behind the
// bytes holds the message.
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
    std::uint64_t chunk = 0;    // bytes per piece
    double per_byte = 0;        // seconds of one core's work per byte
    std::size_t core = 0;       // where all of it runs
    std::uint64_t charged = 0;  // bytes whose work has been started
    std::uint64_t seen = 0;     // bytes delivered at the last tick
    std::vector<simgrid::s4u::ExecPtr> pieces;  // started; waited for when the transfer ends
    bool closed = false;        // finished or cancelled: the pacer lets go of it
  };
  using SharePtr = std::shared_ptr<Share>;

  /// A transfer goes out in at most this many pieces (bigger chunks for big messages).
  static constexpr std::uint64_t kMaxPieces = 32;

  /// cpu: the shared machine (outlives this; not shared: follow() charges nothing); host:
  /// where the pacer's daemon actor lives (the engine must exist and not run yet); chunk:
  /// bytes per piece at least (> 0); link_rate: bytes/s a transfer moves at most (> 0).
  KernelPacer(const MachineCpu& cpu, simgrid::s4u::Host* host, std::uint64_t chunk, double link_rate);
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
  std::uint64_t chunk_;
  double tick_;  // a chunk's time at the link's rate: how often every transfer is looked at
  std::vector<SharePtr> shares_;
  simgrid::s4u::SemaphorePtr wake_;  // released by follow() while the pacer waits
  bool poked_ = false;
};

}  // namespace synclab::sim
