#include "cni/link_mac.h"

#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

namespace ipfence::cni {
namespace {

// Closes the fd when the scope ends, whatever path returns.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

CniError os_error(const std::string& what, int err) {
  return cni_error(kIoFailure, what + ": " + std::strerror(err));
}

// Runs on the dedicated thread: after setns this thread lives in the pod's netns until it
// exits, and nothing else runs on it.
CniOr<std::string> read_in_netns(int netns_fd, const std::string& ifname) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return os_error("setns", errno);
  // The socket's netns is fixed at creation: it must be made after setns.
  FdGuard sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return os_error("socket", errno);
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.data(), ifname.size());  // size < IFNAMSIZ checked by caller
  if (::ioctl(sock.get(), SIOCGIFHWADDR, &req) != 0)
    return os_error("SIOCGIFHWADDR " + ifname, errno);
  if (req.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    return cni_error(kIoFailure, ifname + " is not an Ethernet interface");
  const auto* mac = reinterpret_cast<const unsigned char*>(req.ifr_hwaddr.sa_data);
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return std::string(text);
}

}  // namespace

CniOr<std::string> read_link_mac(const std::string& netns_path, const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    return cni_error(kIoFailure, "interface name '" + ifname + "' does not fit IFNAMSIZ");
  // Opened here, not on the thread, so a bad path fails before any thread exists.
  FdGuard netns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (netns.get() < 0) return os_error("open " + netns_path, errno);

  CniOr<std::string> result = cni_error(kInternal, "netns reader thread did not run");
  try {
    std::thread reader([&] { result = read_in_netns(netns.get(), ifname); });
    reader.join();
  } catch (const std::system_error& e) {  // no thread to spare: go on without the MAC
    return cni_error(kIoFailure, std::string("cannot start the netns reader thread: ") + e.what());
  }
  if (!result.ok()) return result.error().wrap("read MAC of " + ifname + " in " + netns_path);
  return result;
}

}  // namespace ipfence::cni
