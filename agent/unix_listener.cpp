#include "agent/unix_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ipfence::agent {
namespace {

Error os_error(const std::string& what, int err) {
  return make_error(ErrorCode::io, what + ": " + std::strerror(err));
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path, unsigned mode, int backlog) {
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (tmp.size() >= sizeof addr.sun_path)
    return make_error(ErrorCode::invalid_argument,
                      "socket path " + path + " is too long for a unix socket");
  std::memcpy(addr.sun_path, tmp.c_str(), tmp.size() + 1);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return os_error("socket", errno);
  ::unlink(tmp.c_str());  // a leftover of a crashed start with our pid: ours to remove
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return os_error("bind " + tmp, errno);
  auto fail = [&](Error error) {
    ::unlink(tmp.c_str());
    return error;
  };
  if (::chmod(tmp.c_str(), mode) != 0) return fail(os_error("chmod " + tmp, errno));
  if (::listen(fd.get(), backlog) != 0) return fail(os_error("listen " + tmp, errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(os_error("rename " + tmp + " to " + path, errno));
  return fd;
}

}  // namespace ipfence::agent
