// The watcher's TC ingress filter on one interface, through libbpf's TC API, as tc.h does for
// the guard's egress filter (same TcFilterId, same rules: the clsact qdisc is shared and never
// removed, a filter at our (handle, priority) is replaced in place, nothing is detached by a
// destructor because the filter must outlive the agent).
#pragma once

#include <cstdint>

#include "agent/datapath/tc.h"
#include "ipam/result.h"

namespace ipfence::datapath {

// Attaches prog_fd as a direct-action ingress filter, creating the clsact qdisc if missing.
Result<TcAttachOutcome> tc_attach_ingress(const TcFilterId& id, int prog_fd);

// The id of the program at (handle, priority) on ingress, or 0 if none (or no clsact qdisc).
Result<std::uint32_t> tc_query_ingress(const TcFilterId& id);

// Removes our ingress filter and nothing else. Returns whether a filter was there.
Result<bool> tc_detach_ingress(const TcFilterId& id);

}  // namespace ipfence::datapath
