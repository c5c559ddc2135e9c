// The node's own interfaces as the guard needs them: whether one exists, its MAC, and its
// addresses. The guard must know the node's addresses on a master that fall inside a pool or
// a reserved range, or it drops the node's own traffic from them (datapath/guard.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ipam/ip_address.h"
#include "ipam/result.h"

namespace ipfence::agent {

struct HostLink {
  int ifindex = 0;
  std::string mac;  // "aa:bb:cc:dd:ee:ff"; empty when the link has no Ethernet address
  std::vector<ipam::IpAddress> addresses;
};

// Every interface of the calling thread's network namespace, by name (getifaddrs).
Result<std::map<std::string, HostLink>> read_host_links();

// True when an interface of that name exists in the calling thread's network namespace.
bool host_link_exists(const std::string& ifname);

}  // namespace ipfence::agent
