#pragma once
// The largest GSO packet of the interface a connected socket sends by, for calibrate: the
// kernel's TCP cuts its TSO bursts (and so its small-queue limit) to it, and a shaped
// testbed caps it far below Linux's default of 64 KB (sim.packet.gso). Read over rtnetlink
// (RTM_GETLINK, IFLA_GSO_MAX_SIZE) for the interface that holds the socket's local address.
#include <cstdint>

namespace synclab::experiments {

/// The GSO size (bytes) of the interface the connected socket `fd` sends by; 0 when the
/// kernel does not say (no such attribute, no interface with the socket's address).
std::uint64_t interface_gso_max_size(int fd);

}  // namespace synclab::experiments
