#pragma once
// When a sender's writes left and when their acknowledgements came back, as the kernel
// stamps them (Linux SO_TIMESTAMPING: a software stamp as a write's last byte is handed
// to the device, another as the peer's ACK covers it; read from the socket's error queue).
// For calibrate's first-read probe: how long a receiving process asleep in its read keeps
// the first ACK of a message back (docs/simulator.md, "The first read").
#include <cstdint>
#include <vector>

namespace synclab::experiments {

struct TxStamp {
  std::uint32_t key = 0;  ///< bytes written since the stamps were turned on, to the write's last byte (its first: 0)
  bool acked = false;     ///< true: the peer's ACK covered the write; false: its last byte left for the device
  double time_s = 0;      ///< CLOCK_REALTIME seconds
};

/// Stamps every later write on the connected TCP socket `fd`, keyed from the next byte
/// written (so nothing should be in flight); false where the kernel refuses.
bool enable_tx_stamps(int fd);
/// Stops stamping later writes on `fd`.
void disable_tx_stamps(int fd);
/// The stamps waiting on fd's error queue, in the order the kernel queued them (empties it).
std::vector<TxStamp> read_tx_stamps(int fd);
/// The least round trip the kernel has measured on `fd` (TCP_INFO min_rtt), seconds; 0 where unknown.
double kernel_min_rtt(int fd);

/// Seconds from the write with `key` leaving to its ACK (the last of each kind kept); < 0
/// when either stamp is missing.
double ack_delay(const std::vector<TxStamp>& stamps, std::uint32_t key);

}  // namespace synclab::experiments
