#include "experiments/tcp_sender_state.hpp"

#include <cstring>

#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace synclab::experiments {

TcpSenderState tcp_sender_state(int fd) {
  TcpSenderState out;
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0)
    out.window_bytes = static_cast<double>(info.tcpi_snd_cwnd) * info.tcpi_snd_mss;
  char name[32] = {};
  len = sizeof name - 1;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) == 0) out.congestion.assign(name, ::strnlen(name, len));
  if (out.congestion == "bbr") {
    tcp_cc_info cc{};
    len = sizeof cc;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_CC_INFO, &cc, &len) == 0 && len >= sizeof cc.bbr) {
      out.bbr_bandwidth_Bps = static_cast<double>((static_cast<unsigned long long>(cc.bbr.bbr_bw_hi) << 32) | cc.bbr.bbr_bw_lo);
      // ~0U: no RTT sample yet.
      if (cc.bbr.bbr_min_rtt != ~0U) out.bbr_min_rtt_s = cc.bbr.bbr_min_rtt * 1e-6;
    }
  }
  return out;
}

}  // namespace synclab::experiments
