// Internal to the datapath library: the state behind Guard, shared by guard.cpp (load,
// attach, config), guard_sync.cpp (map syncs and reads) and guard_upgrade.cpp (pins of an
// older layout).
#pragma once

#include <bpf/bpf.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "bpf/abi.h"
#include "guard.skel.h"

namespace ipfence::datapath {

// The program caches judgements and interface settings per CPU under ipf_judge_gen
// (bpf/judge_cache.h, bpf/iface_cache.h): every write to a map it caches from moves the
// generation on when it ends, written or failed half way, so nothing cached before is used
// again. Only one Guard object writes the maps, so a plain read and write is enough. Cannot
// fail for key 0 of an array map held open.
class CacheGenerationBump {
 public:
  explicit CacheGenerationBump(int gen_fd) : fd_(gen_fd) {}
  CacheGenerationBump(const CacheGenerationBump&) = delete;
  CacheGenerationBump& operator=(const CacheGenerationBump&) = delete;
  ~CacheGenerationBump() {
    const __u32 key = 0;
    __u64 gen = 0;
    bpf_map_lookup_elem(fd_, &key, &gen);
    ++gen;
    bpf_map_update_elem(fd_, &key, &gen, BPF_ANY);
  }

 private:
  int fd_;
};

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
  int fd(GuardMap which) const { return bpf_map__fd(map(which)); }
  // Applies `change` to the config entry of `key` (to the defaults when it has none) and
  // writes it if anything changed or it has no counter row yet: a free row is given and
  // zeroed. An unchanged entry with a row costs one lookup.
  Status update_iface_config(const ipf_iface_key& key,
                             const std::function<void(ipf_iface_config&)>& change) const;
  // Gives every config entry without a counter row one (entries an older agent wrote).
  Status give_counter_rows() const;
  // Deletes the config and counter entries of every interface `which` selects; returns how
  // many entries went.
  Result<std::size_t> erase_ifaces(const std::function<bool(const IfaceKey&)>& which) const;
};

}  // namespace ipfence::datapath
