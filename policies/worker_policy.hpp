#pragma once
// The worker side of a synchronization policy: how many local steps before communicating,
// what to send, and how to react to the server's hints. Plain data: WorkerCore applies it.
#include <algorithm>
#include <optional>

#include "policies/events.hpp"

namespace synclab {

struct WorkerPolicy {
  PayloadKind payload = PayloadKind::Gradient;  ///< Gradient: tau must be 1; ModelDelta: local SGD
  int local_steps = 1;                          ///< tau: batches computed between two pushes
  double local_lr = 0;                          ///< lr of the local SGD steps; 0 = train.optimizer.lr
  bool adaptive = false;                        ///< tau follows the server's ReplyPull hints
  /// Takes the tau hint carried by a pull reply (adaptive policies send one).
  void on_reply(std::optional<int> tau_hint) {
    if (tau_hint) local_steps = std::max(1, *tau_hint);
  }
};

}  // namespace synclab
