// The guard's TC egress filter on one interface, through libbpf's TC API (netlink; never the
// `tc` binary). The filter is identified by (ifindex, egress, handle, priority).
//
// There is deliberately no RAII owner that detaches on destruction: the filter must outlive
// the agent (enforcement goes on while it restarts). Detaching is an explicit call.
#pragma once

#include <cstdint>

#include "ipam/result.h"

namespace ipfence::datapath {

struct TcFilterId {
  int ifindex = 0;
  std::uint32_t handle = 0;
  std::uint32_t priority = 0;  // 1..65535
};

struct TcAttachOutcome {
  std::uint32_t prog_id = 0;           // the program now attached
  std::uint32_t replaced_prog_id = 0;  // the one it replaced at the same slot, 0 if none
  bool created_qdisc = false;          // the clsact qdisc was created by this call
};

// Attaches prog_fd as a direct-action egress filter. Creates the clsact qdisc if missing; an
// existing one is shared with other programs (the conflict monitor's ingress filter), so
// EEXIST is expected. A filter already at (handle, priority) is replaced atomically
// (BPF_TC_F_REPLACE): no moment without a filter, and never two.
Result<TcAttachOutcome> tc_attach_egress(const TcFilterId& id, int prog_fd);

// The id of the program attached at (handle, priority) on egress, or 0 if none (also when
// the interface has no clsact qdisc).
Result<std::uint32_t> tc_query_egress(const TcFilterId& id);

// Removes our filter and nothing else: the clsact qdisc stays, because other filters may
// hang off it and an empty one costs nothing. Returns whether a filter was there.
Result<bool> tc_detach_egress(const TcFilterId& id);

}  // namespace ipfence::datapath
