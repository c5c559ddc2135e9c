// One agent per socket. An exclusive flock on "<socket>.lock", held for the life of the
// process, decides who serves the socket: the kernel drops it when the process dies, however
// it dies, so a lock that is free means any socket file left behind is stale.
#pragma once

#include <string>

#include "agent/unique_fd.h"
#include "ipam/result.h"

namespace ipfence::agent {

class InstanceLock {
 public:
  // Creates the socket's directory (0755) if needed, takes the lock, and unlinks a stale
  // socket file. Fails when another process holds the lock, naming socket and lock file.
  static Result<InstanceLock> acquire(const std::string& socket_path);

  const std::string& lock_path() const { return lock_path_; }

 private:
  InstanceLock(UniqueFd fd, std::string lock_path)
      : fd_(std::move(fd)), lock_path_(std::move(lock_path)) {}
  // The lock file is never unlinked: a process that opened it just before an unlink would
  // lock an orphaned inode while a third one locks a new file, and both would serve.
  UniqueFd fd_;
  std::string lock_path_;
};

}  // namespace ipfence::agent
