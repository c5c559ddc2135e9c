// What one sighting from the conflict watcher means (RFC 5227 2.1.1 and 2.4, RFC 4862 5.4.3
// and 5.4.4), decided against the agent's view of the cluster: allocations on every node with
// their MACs, reserved sets, pools.
//
//   pod       the address is allocated to a pod and another MAC uses it
//   probe     an ARP probe / DAD for an allocated address, from another MAC
//   squatter  the address is usable in a pool, unallocated, not reserved
//   reserved  the address is reserved and in use outside: expected, counted, not a conflict
//   none      nothing to report: the holder itself, an excluded address or gateway, a probe
//             for a free address (a host, or another node's active probe, looking before it
//             uses it), an address no pool or reservation covers, or a holder whose MAC is
//             unknown (the plugin could not read it: nothing to compare with)
#pragma once

#include <optional>
#include <string>

#include "agent/datapath/watch_event.h"
#include "ipam/cluster_state.h"
#include "ipam/conflict_model.h"

namespace ipfence::agent {

struct Classification {
  std::optional<ipam::ConflictKind> kind;  // nullopt: none
  std::string pool;                        // the pool whose usable range holds the IP, or ""
  std::string holder;                      // "<namespace>/<pod>" when allocated
  std::string holder_mac;
  std::string holder_node;
};

Classification classify(const ipam::ClusterState& state, const datapath::WatchEvent& event);

}  // namespace ipfence::agent
