#include "experiments/interface_gso.hpp"

#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

namespace synclab::experiments {
namespace {

// The index of the interface holding `local` (an AF_INET or AF_INET6 address); 0 if none.
unsigned interface_of(const sockaddr_storage& local) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return 0;
  const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owned(list, ::freeifaddrs);
  for (const ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != local.ss_family) continue;
    const bool same =
        local.ss_family == AF_INET
            ? reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr ==
                  reinterpret_cast<const sockaddr_in*>(&local)->sin_addr.s_addr
            : std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr,
                          &reinterpret_cast<const sockaddr_in6*>(&local)->sin6_addr, sizeof(in6_addr)) == 0;
    if (same) return ::if_nametoindex(a->ifa_name);
  }
  return 0;
}

int gso_attribute(const nlattr* attr, void* out) {
  if (mnl_attr_get_type(attr) == IFLA_GSO_MAX_SIZE && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
    *static_cast<std::uint64_t*>(out) = mnl_attr_get_u32(attr);
  return MNL_CB_OK;
}

int link_message(const nlmsghdr* nlh, void* out) {
  return mnl_attr_parse(nlh, sizeof(ifinfomsg), gso_attribute, out);
}

}  // namespace

std::uint64_t interface_gso_max_size(int fd) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return 0;
  const unsigned index = interface_of(local);
  if (index == 0) return 0;

  const std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl(mnl_socket_open(NETLINK_ROUTE), mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return 0;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = static_cast<unsigned>(std::time(nullptr));
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = static_cast<int>(index);
  const unsigned seq = nlh->nlmsg_seq, port = mnl_socket_get_portid(nl.get());
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) return 0;
  std::uint64_t gso = 0;
  const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n <= 0 || mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, port, link_message, &gso) < 0) return 0;
  return gso;
}

}  // namespace synclab::experiments
