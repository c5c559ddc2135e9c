#include "agent/conflict/probe_socket.h"

#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "agent/conflict/probe_frames.h"
#include "agent/datapath/os_error.h"

namespace ipfence::agent {

Result<ProbeSocket> ProbeSocket::open() {
  // Protocol 0: the socket only sends; frames arriving on the masters are the watcher's.
  UniqueFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) return datapath::os_error("conflict probe: socket(AF_PACKET)", errno);
  return ProbeSocket(std::move(fd));
}

Status ProbeSocket::send_probe(const std::string& ifname, const ipam::IpAddress& target) {
  ifreq request{};
  if (ifname.empty() || ifname.size() >= sizeof request.ifr_name)
    return make_error(ErrorCode::invalid_argument,
                      "conflict probe: \"" + ifname + "\" is not an interface name");
  std::memcpy(request.ifr_name, ifname.data(), ifname.size());
  if (::ioctl(fd_.get(), SIOCGIFINDEX, &request) != 0)
    return datapath::os_error("conflict probe: interface " + ifname, errno);
  const int ifindex = request.ifr_ifindex;
  if (::ioctl(fd_.get(), SIOCGIFHWADDR, &request) != 0)
    return datapath::os_error("conflict probe: MAC of " + ifname, errno);
  datapath::Mac source;
  std::memcpy(source.bytes.data(), request.ifr_hwaddr.sa_data, source.bytes.size());

  const auto frame = probe_frame(source, target);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame.data(), 6);  // the frame's own destination
  const ssize_t sent = ::sendto(fd_.get(), frame.data(), frame.size(), 0,
                                reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (sent < 0)
    return datapath::os_error("conflict probe: send on " + ifname + " for " + target.to_string(),
                              errno);
  return {};
}

}  // namespace ipfence::agent
