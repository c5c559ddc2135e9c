// Our TC filters on one interface, through libbpf's TC API (netlink; never the `tc` binary):
// the guard's on egress, the conflict watcher's on ingress. A filter is identified by
// (ifindex, direction, handle, priority).
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

enum class TcDirection { egress, ingress };

// Attaches prog_fd as a direct-action filter. Creates the clsact qdisc if missing; an
// existing one is shared (the guard's egress and the watcher's ingress filters hang off the
// same one), so EEXIST is expected. A filter already at (handle, priority) is replaced
// atomically (BPF_TC_F_REPLACE): no moment without a filter, and never two.
Result<TcAttachOutcome> tc_attach(const TcFilterId& id, TcDirection direction, int prog_fd);

// The id of the program attached at (handle, priority), or 0 if none (also when the
// interface has no clsact qdisc).
Result<std::uint32_t> tc_query(const TcFilterId& id, TcDirection direction);

// Removes our filter and nothing else: the clsact qdisc stays, because other filters may
// hang off it and an empty one costs nothing. Returns whether a filter was there.
Result<bool> tc_detach(const TcFilterId& id, TcDirection direction);

inline Result<TcAttachOutcome> tc_attach_egress(const TcFilterId& id, int prog_fd) {
  return tc_attach(id, TcDirection::egress, prog_fd);
}
inline Result<std::uint32_t> tc_query_egress(const TcFilterId& id) {
  return tc_query(id, TcDirection::egress);
}
inline Result<bool> tc_detach_egress(const TcFilterId& id) {
  return tc_detach(id, TcDirection::egress);
}
inline Result<TcAttachOutcome> tc_attach_ingress(const TcFilterId& id, int prog_fd) {
  return tc_attach(id, TcDirection::ingress, prog_fd);
}
inline Result<std::uint32_t> tc_query_ingress(const TcFilterId& id) {
  return tc_query(id, TcDirection::ingress);
}
inline Result<bool> tc_detach_ingress(const TcFilterId& id) {
  return tc_detach(id, TcDirection::ingress);
}

}  // namespace ipfence::datapath
