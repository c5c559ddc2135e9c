// Internal to the datapath library: the state behind Guard, shared by guard.cpp (load,
// attach, config), guard_sync.cpp (map syncs and reads) and guard_upgrade.cpp (pins of an
// older layout).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "guard.skel.h"

namespace ipfence::datapath {

struct SkeletonDeleter {
  void operator()(guard_bpf* skel) const { guard_bpf__destroy(skel); }
};
using GuardSkeleton = std::unique_ptr<guard_bpf, SkeletonDeleter>;

struct Guard::Impl {
  GuardOptions options;
  GuardSkeleton skel;
  std::vector<std::string> warnings;
  // The network namespace open() ran in: the masters' (bpf/netns_cookie.h).
  std::uint64_t netns_cookie = 0;
  // The reserved ranges now in the tries (merged). Leases on these get IPF_LEASE_F_RESERVED,
  // so the program's pass path needs no LPM lookup. Read back from the tries at open().
  std::vector<ipam::IpRange> reserved;
  // Attachments this object made in other network namespaces (the config map only records
  // masters in the agent's own netns). Their cookies outlive the namespaces, so that detach()
  // can still find their counters.
  std::vector<Attachment> netns_attachments;

  bpf_map* map(GuardMap which) const;
  // Deletes the config and counter entries of every interface `which` selects; returns how
  // many entries went.
  Result<std::size_t> erase_ifaces(const std::function<bool(const IfaceKey&)>& which) const;
};

}  // namespace ipfence::datapath
