#pragma once
// What the kernel's TCP says about the sending side of a connection (Linux: TCP_INFO,
// TCP_CONGESTION and TCP_CC_INFO), for calibrate: the window one flow keeps on the path,
// and which congestion control keeps it, with what estimate of the path's rate.
#include <string>

namespace synclab::experiments {

struct TcpSenderState {
  double window_bytes = 0;       ///< congestion window: snd_cwnd segments x snd_mss (0: the kernel does not say)
  std::string congestion;        ///< the congestion control's name ("bbr", "cubic"; empty: the kernel does not say)
  double bbr_bandwidth_Bps = 0;  ///< with bbr: its bandwidth estimate (max-filtered delivery rate), bytes/s; else 0
  double bbr_min_rtt_s = 0;      ///< with bbr: its min RTT (the kernel's round trip, ACKs included, no process), s; else 0
};

/// The sending state of the connected TCP socket `fd`; fields the kernel does not give stay 0 or empty.
TcpSenderState tcp_sender_state(int fd);

}  // namespace synclab::experiments
