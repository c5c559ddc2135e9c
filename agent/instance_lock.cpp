#include "agent/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "agent/fs_util.h"

namespace ipfence::agent {
namespace {

Error os_error(const std::string& what, int err) {
  return make_error(ErrorCode::io, what + ": " + std::strerror(err));
}

}  // namespace

Result<InstanceLock> InstanceLock::acquire(const std::string& socket_path) {
  IPF_TRY(make_dirs(parent_of(socket_path), 0755));
  const std::string lock_path = socket_path + ".lock";
  UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return os_error("open lock file " + lock_path, errno);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return make_error(ErrorCode::in_use,
                        "another ipfence-agent is already serving " + socket_path + " (lock " +
                            lock_path + " is held); stop it first or pass a different --socket");
    return os_error("lock " + lock_path, errno);
  }
  // We hold the lock, so nobody serves the socket: a file left there is from an agent that
  // died without cleaning up. Only a socket is removed; anything else is a mistake to report.
  struct stat st {};
  if (::lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error(ErrorCode::invalid_argument,
                        socket_path +
                            " exists and is not a socket; remove it or pass a "
                            "different --socket");
    if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT)
      return os_error("remove stale socket " + socket_path, errno);
  } else if (errno != ENOENT) {
    return os_error("stat " + socket_path, errno);
  }
  return InstanceLock(std::move(fd), lock_path);
}

}  // namespace ipfence::agent
