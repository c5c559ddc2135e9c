#include "agent/host_links.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace ipfence::agent {
namespace {

struct IfaddrsDeleter {
  void operator()(ifaddrs* list) const { ::freeifaddrs(list); }
};

std::string mac_text(const sockaddr_ll* ll) {
  if (ll->sll_halen != 6) return "";
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", ll->sll_addr[0],
                ll->sll_addr[1], ll->sll_addr[2], ll->sll_addr[3], ll->sll_addr[4],
                ll->sll_addr[5]);
  return text;
}

}  // namespace

Result<std::map<std::string, HostLink>> read_host_links() {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0)
    return make_error(ErrorCode::io, std::string("getifaddrs: ") + std::strerror(errno));
  std::unique_ptr<ifaddrs, IfaddrsDeleter> list(raw);
  std::map<std::string, HostLink> links;
  for (const ifaddrs* entry = raw; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_name == nullptr) continue;
    HostLink& link = links[entry->ifa_name];
    if (link.ifindex == 0) link.ifindex = static_cast<int>(::if_nametoindex(entry->ifa_name));
    const sockaddr* addr = entry->ifa_addr;
    if (addr == nullptr) continue;
    if (addr->sa_family == AF_PACKET) {
      link.mac = mac_text(reinterpret_cast<const sockaddr_ll*>(addr));
    } else if (addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
      link.addresses.push_back(ipam::IpAddress::from_bytes(
          ipam::IpFamily::v4, reinterpret_cast<const std::uint8_t*>(&in->sin_addr)));
    } else if (addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
      link.addresses.push_back(
          ipam::IpAddress::from_bytes(ipam::IpFamily::v6, in6->sin6_addr.s6_addr));
    }
  }
  return links;
}

bool host_link_exists(const std::string& ifname) {
  return ::if_nametoindex(ifname.c_str()) != 0;
}

}  // namespace ipfence::agent
