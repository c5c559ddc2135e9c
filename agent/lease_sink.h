// What the IPAM handlers tell the datapath synchronously, so that enforcement is in place
// before the CNI plugin hears back: a lease is in the guard's map before ADD returns and gone
// before DEL returns. The store watcher would get there too, but up to a tick later.
//
// The handlers know nothing about BPF: they hand over allocations and the view's revision,
// and the datapath (datapath_service.h) decides what that means for its maps. With the guard
// off, NullLeaseSink accepts everything.
#pragma once

#include <cstdint>
#include <vector>

#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::agent {

class LeaseSink {
 public:
  virtual ~LeaseSink() = default;

  // After a successful allocate, before the reply. One Allocation per IP (ip, mac, master,
  // netns, ifname filled as the request gave them). `revision` is the view's revision right
  // after the allocation: a later snapshot of the store at or past it already holds these.
  // An error means the leases are not enforced: the handler rolls the allocation back.
  virtual Status on_allocated(const std::vector<ipam::Allocation>& leases,
                              std::int64_t revision) = 0;

  // After a release (or GC, or a rolled-back allocate), before the reply. Only `ip`, and
  // when known netns and ifname, are looked at.
  virtual Status on_released(const std::vector<ipam::Allocation>& released,
                             std::int64_t revision) = 0;
};

class NullLeaseSink final : public LeaseSink {
 public:
  Status on_allocated(const std::vector<ipam::Allocation>&, std::int64_t) override { return {}; }
  Status on_released(const std::vector<ipam::Allocation>&, std::int64_t) override { return {}; }
};

}  // namespace ipfence::agent
