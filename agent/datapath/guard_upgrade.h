// Internal to the datapath library: pins that an agent from before per-namespace keys left
// behind (bpf/abi.h): ipf_iface_cfg keyed by a bare __u32 ifindex, ipf_counters by {ifindex,
// reason, verdict}. Neither can be adopted, and refusing them, as any other foreign layout is
// refused, would stop every node's agent at the upgrade until someone removed pins by hand.
// They are replaced instead, which is safe because neither holds enforcement state:
//   ipf_iface_cfg  the masters' modes and policies, which the agent sets again whenever it
//                  attaches. Entries are carried over, keyed by the agent's own namespace
//                  (the old agent recorded masters only there), so attached() still lists
//                  the masters the old agent attached.
//   ipf_counters   counts that mixed pods and masters of equal ifindex; they start over
//                  (metrics take a counter that went down for a new start).
// The new map is pinned under a temporary name and renamed over the old pin, so the pin dir
// always holds one complete map. The program already attached keeps the old maps until the
// agent attaches its new one in place, so enforcement has no gap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/guard.h"
#include "agent/unique_fd.h"

namespace ipfence::datapath {

struct OldPin {
  GuardMap map;
  std::string path;
  agent::UniqueFd fd;
};

// Whether `info` (a pinned map's) is `which` in the layout before per-namespace keys.
bool has_pre_netns_layout(GuardMap which, const MapInfo& info);

// After load: fills `new_fd` (the freshly created map) from the old pin as described above,
// pins it in the old one's place and adds a line to `warnings`. On failure the old pin is
// left as it was.
Status replace_pre_netns_pin(const OldPin& old, int new_fd, std::uint64_t own_netns_cookie,
                             std::vector<std::string>& warnings);

}  // namespace ipfence::datapath
