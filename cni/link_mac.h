// The MAC address of the pod's interface, which the macvlan plugin created before it called
// IPAM. The agent binds the allocation to it so the eBPF filter can tell pods apart.
#pragma once

#include <string>

#include "cni/cni_error.h"

namespace ipfence::cni {

// "aa:bb:cc:dd:ee:ff" of `ifname` inside the network namespace at `netns_path`.
// Enters the namespace on a short-lived thread of its own (setns(2) only moves the calling
// thread, so the rest of the plugin never leaves the host namespace), and asks with
// SIOCGIFHWADDR on a socket created in there. Errors (no such netns or interface, no
// privilege, not Ethernet) are values: the caller sends no MAC and carries on.
CniOr<std::string> read_link_mac(const std::string& netns_path, const std::string& ifname);

}  // namespace ipfence::cni
