// The listening AF_UNIX socket of the IPAM API, created by us rather than by the HTTP
// library so that its mode is right before anyone can connect.
#pragma once

#include <string>

#include "agent/unique_fd.h"
#include "ipam/result.h"

namespace ipfence::agent {

// Binds and listens on `path` with file mode `mode`. The socket is bound under a temporary
// name, chmod-ed, then renamed into place: there is no moment at which `path` exists with a
// wider mode (the umask is process-wide, so changing it would race with other threads).
// `path` must not exist (InstanceLock removes a stale one). Non-blocking, close-on-exec.
Result<UniqueFd> listen_unix(const std::string& path, unsigned mode, int backlog = 128);

}  // namespace ipfence::agent
