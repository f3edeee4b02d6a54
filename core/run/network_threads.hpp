#pragma once
// The one meaning of train.threads, for every place that builds a training network
// (train, the simulator's workers, real workers).
#include "core/run/train_loop.hpp"

namespace synclab {

/// CPU threads of a network for train.threads = `configured`: 0 means every CPU this
/// process may use (usable_cpus()), anything else that many.
inline int network_threads(int configured) { return configured > 0 ? configured : usable_cpus(); }

}  // namespace synclab
