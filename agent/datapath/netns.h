// Running a piece of work inside another network namespace without moving the caller, and
// naming a namespace the way the guard's maps do (its cookie).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "ipam/result.h"

namespace ipfence::datapath {

// Runs `fn` on a dedicated thread that has joined the network namespace at `netns_path`
// (e.g. /var/run/netns/x, /proc/<pid>/ns/net) and waits for it. Network namespaces are per
// thread, so the caller and the process's other threads stay where they are; the thread
// ends with fn, so nothing has to switch back. An empty path runs fn on the calling thread.
// Sockets fn opens (libbpf's netlink socket for TC, if_nametoindex's) live in that netns.
Status run_in_netns(const std::string& netns_path, const std::function<Status()>& fn);

// The cookie of the calling thread's network namespace: SO_NETNS_COOKIE of a socket made
// there. Unique for the kernel's uptime and never reused, unlike an inode number; the guard
// reads the same value for an interface's namespace (bpf/netns_cookie.h).
Result<std::uint64_t> current_netns_cookie();

// The cookie of the namespace at `netns_path` ("" : the calling thread's).
Result<std::uint64_t> netns_cookie(const std::string& netns_path);

}  // namespace ipfence::datapath
