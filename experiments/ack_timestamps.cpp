#include "experiments/ack_timestamps.hpp"

#include <cstddef>
#include <cstring>
#include <ctime>

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace synclab::experiments {

bool enable_tx_stamps(int fd) {
  // TSONLY: the error queue carries the stamps without a copy of the data.
  const int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK | SOF_TIMESTAMPING_SOFTWARE |
                    SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY;
  return ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
}

void disable_tx_stamps(int fd) {
  const int none = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &none, sizeof none);
}

std::vector<TxStamp> read_tx_stamps(int fd) {
  std::vector<TxStamp> out;
  for (;;) {
    alignas(cmsghdr) char control[256];
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;  // EAGAIN: the queue is empty
    timespec ts{};
    sock_extended_err err{};
    bool have_err = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
        scm_timestamping t{};
        std::memcpy(&t, CMSG_DATA(c), sizeof t);
        ts = t.ts[0];  // the software stamp
      } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                 (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        std::memcpy(&err, CMSG_DATA(c), sizeof err);
        have_err = true;
      }
    }
    if (!have_err || err.ee_origin != SO_EE_ORIGIN_TIMESTAMPING || (ts.tv_sec == 0 && ts.tv_nsec == 0)) continue;
    if (err.ee_info != SCM_TSTAMP_SND && err.ee_info != SCM_TSTAMP_ACK) continue;
    out.push_back({err.ee_data, err.ee_info == SCM_TSTAMP_ACK, static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9});
  }
  return out;
}

double kernel_min_rtt(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  // Kernels before 4.6 give a shorter struct without it.
  if (len < offsetof(tcp_info, tcpi_min_rtt) + sizeof info.tcpi_min_rtt || info.tcpi_min_rtt == 0) return 0;
  return info.tcpi_min_rtt * 1e-6;
}

double ack_delay(const std::vector<TxStamp>& stamps, std::uint32_t key) {
  double sent = -1, acked = -1;
  for (const TxStamp& s : stamps) {
    if (s.key != key) continue;
    (s.acked ? acked : sent) = s.time_s;
  }
  return sent < 0 || acked < 0 ? -1 : acked - sent;
}

}  // namespace synclab::experiments
