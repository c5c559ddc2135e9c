#include "agent/datapath/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include "agent/datapath/os_error.h"
#include "agent/unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71  // Linux 5.14; older libc headers lack it
#endif

namespace ipfence::datapath {

Status run_in_netns(const std::string& netns_path, const std::function<Status()>& fn) {
  if (netns_path.empty()) return fn();
  agent::UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return os_error("open netns " + netns_path, errno);
  Status result;
  std::thread worker([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = os_error("setns " + netns_path, errno);
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

Result<std::uint64_t> current_netns_cookie() {
  // A socket belongs to the namespace of the thread that made it; AF_UNIX needs no network.
  agent::UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return os_error("socket for SO_NETNS_COOKIE", errno);
  std::uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(sock.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
    return os_error("getsockopt SO_NETNS_COOKIE", errno);
  return cookie;
}

Result<std::uint64_t> netns_cookie(const std::string& netns_path) {
  std::uint64_t cookie = 0;
  const Status st = run_in_netns(netns_path, [&]() -> Status {
    IPF_ASSIGN_OR_RETURN(cookie, current_netns_cookie());
    return {};
  });
  if (!st) return st.error();
  return cookie;
}

}  // namespace ipfence::datapath
