// The guard: the TC egress program on every macvlan master and pod interface
// (bpf/guard.bpf.c), its pinned maps, and the calls that keep both in step with the agent's
// state.
//
// Lifecycle. Guard::open() adopts the maps pinned under the pin dir (or creates and pins
// them) and loads a fresh program that uses them. attach() puts that program on an
// interface, replacing in place whatever guard program was there, so a restarted agent takes
// over from its predecessor without a gap and without attaching twice. Nothing is undone by
// the destructor: filters and pinned maps are meant to outlive the agent. detach() is the
// only call that removes enforcement from an interface.
//
// Maps are written only by sync calls that diff the desired state against what the map holds
// and change only the difference (never wipe-and-refill, which would open a hole).
//
// Mode, reserved policy and counters belong to one attachment, named by IfaceKey: the
// interface's network namespace and its ifindex there. The namespace this object was opened
// in is "its own" (the agent's, where the masters are); calls without a netns path must come
// from a thread in it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/datapath/codes.h"
#include "agent/datapath/mac.h"
#include "ipam/ip_address.h"
#include "ipam/result.h"

namespace ipfence::datapath {

inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/ipfence";
// Our slot on each master's clsact egress hook. Priority 1 runs the guard before any other
// egress filter, so a filter that passes frames early cannot bypass it.
inline constexpr std::uint32_t kDefaultTcHandle = 0x1f5e;
inline constexpr std::uint32_t kDefaultTcPriority = 1;

struct GuardCapacities {
  std::uint32_t leases = 65536;
  std::uint32_t reserved_prefixes = 65536;  // per family
  std::uint32_t pool_prefixes = 16384;      // per family
  std::uint32_t pod_macs = 65536;
};

struct GuardOptions {
  // Maps are pinned here by name; must be on a bpf filesystem. Empty: nothing is pinned
  // (tests and benchmarks that own their maps).
  std::string pin_dir = kDefaultPinDir;
  // Used when the maps are created. Pinned maps keep the size they were created with (a
  // warning says so); resizing means removing the pins, i.e. a restart without enforcement.
  GuardCapacities capacities;
  // For masters without their own setting (set_mode / set_reserved_policy). Compiled into
  // the program's rodata, so changing them takes a new open() and attach().
  Mode default_mode = Mode::enforce;
  ReservedPolicy default_policy = ReservedPolicy::grandfather;
  std::uint32_t tc_handle = kDefaultTcHandle;
  std::uint32_t tc_priority = kDefaultTcPriority;
};

// One address leased to a local pod, and that pod's MAC ("aa:bb:cc:dd:ee:ff").
struct Lease {
  ipam::IpAddress ip;
  std::string mac;
};

// A lease as the map holds it; `reserved` is the grandfather flag the guard precomputes.
struct LeaseEntry {
  ipam::IpAddress ip;
  Mac mac;
  bool reserved = false;
  auto operator<=>(const LeaseEntry&) const = default;
};

// One write to the lease or pod-MAC map, for Guard::apply.
struct MapEdit {
  enum class Kind : std::uint8_t { put_lease, erase_lease, put_pod_mac, erase_pod_mac };
  Kind kind = Kind::put_lease;
  ipam::IpAddress ip;  // the lease kinds
  Mac mac;             // put_lease and the pod-MAC kinds
  bool operator==(const MapEdit&) const = default;
};

// Where to attach: an interface by name or ifindex (give one), in the agent's own network
// namespace (masters) or in the netns at `netns` (a pod-side guard).
struct AttachTarget {
  std::string ifname;
  int ifindex = 0;
  std::string netns;
};

// One interface as the guard's config and counters key it (bpf/abi.h struct ipf_iface_key):
// the cookie of its network namespace (netns.h) and its ifindex there. An ifindex alone is
// ambiguous: a pod's eth0 is commonly ifindex 2 in its namespace, as the node's first NIC is
// in the node's.
struct IfaceKey {
  std::uint64_t netns_cookie = 0;
  std::uint32_t ifindex = 0;
  auto operator<=>(const IfaceKey&) const = default;
};

struct Attachment {
  std::string netns;  // empty: the agent's own
  std::string ifname;
  int ifindex = 0;
  std::uint64_t netns_cookie = 0;  // of the interface's namespace
  Mode mode = Mode::enforce;
  ReservedPolicy policy = ReservedPolicy::grandfather;
  std::uint32_t prog_id = 0;
  std::uint32_t replaced_prog_id = 0;  // from attach(): the guard program it replaced, or 0

  IfaceKey key() const { return {netns_cookie, static_cast<std::uint32_t>(ifindex)}; }
};

struct IfaceConfig {
  Mode mode = Mode::enforce;
  ReservedPolicy policy = ReservedPolicy::grandfather;
};

// What a sync call changed. `unchanged` entries were not written at all.
struct SyncStats {
  std::size_t added = 0;
  std::size_t removed = 0;
  std::size_t changed = 0;
  std::size_t unchanged = 0;
};

struct CounterRow {
  IfaceKey iface;
  Reason reason = Reason::none;
  Verdict verdict = Verdict::passed;
  std::uint64_t packets = 0;  // summed over CPUs
  std::uint64_t bytes = 0;
};

enum class GuardMap {
  leases,
  reserved_v4,
  reserved_v6,
  pools_v4,
  pools_v6,
  pod_macs,
  iface_config,
  counters,        // per (interface, reason, verdict): interfaces without a counter row
  iface_counters,  // per counter row (ipf_iface_config.counter_slot)
};

// Not thread-safe: one owner (the agent's datapath loop) makes all calls. The kernel side
// needs no such care: the program reads the maps concurrently with every update.
class Guard {
 public:
  // Adopts or creates the pinned maps and loads the program. Fails (before touching any
  // pinned map) if the pin dir is not on bpffs or a pinned map has another layout.
  static Result<Guard> open(const GuardOptions& options);

  Guard(Guard&&) noexcept;
  Guard& operator=(Guard&&) noexcept;
  ~Guard();

  // Attaches (or re-attaches, replacing) the guard, after giving the interface a config
  // entry (the defaults, unless it has one) with a counter row of its own. In the agent's own
  // netns the entry is also the record of the master, which is how attached() finds it after
  // a restart. An interface gets no row when all are taken: it is counted in the slower
  // per-key counter map instead.
  Result<Attachment> attach(const AttachTarget& target);
  Result<Attachment> attach(const std::string& ifname) {
    return attach(AttachTarget{ifname, 0, {}});
  }
  Result<Attachment> attach(int ifindex) { return attach(AttachTarget{{}, ifindex, {}}); }
  // Removes our filter, and the interface's config and counters (found by the cookie
  // attach() saw when its netns is gone). Only ours: the filter at our (handle, priority), and
  // only when the program there is a guard (by name, so that a guard an earlier version
  // attached goes too); anything else at that slot stays. Returns whether a filter went.
  Result<bool> detach(const AttachTarget& target);
  // Guard filters on masters recorded in the config map (by whichever agent attached them),
  // plus those this object attached in other namespaces.
  Result<std::vector<Attachment>> attached() const;
  // Only the first part: guard filters on masters in this object's own namespace.
  Result<std::vector<Attachment>> masters() const;
  // Removes the config and counters of one interface without touching any filter (an
  // interface that is gone took its filters with it).
  Status forget(const IfaceKey& iface);

  // Removes the config and counters of interfaces in namespaces that are neither this
  // object's own nor one it attached to: pod guards of an earlier run whose pods are gone
  // (their keys would otherwise fill the maps as pods come and go). Returns how many entries.
  Result<std::size_t> forget_other_netns();

  // The cookie of this object's own network namespace (where open() ran), and the key of an
  // interface there.
  std::uint64_t netns_cookie() const;
  IfaceKey own_iface(std::uint32_t ifindex) const { return {netns_cookie(), ifindex}; }

  // Per-interface settings, effective at once for the program already attached.
  Status set_mode(const IfaceKey& iface, Mode mode);
  Status set_reserved_policy(const IfaceKey& iface, ReservedPolicy policy);
  Result<IfaceConfig> iface_config(const IfaceKey& iface) const;

  // Desired-state syncs. Inputs are validated completely (MACs, capacity, duplicates) before
  // any map is written. The node's own addresses on a master that fall inside reserved or
  // pool ranges must be given as leases with the master's MAC, or they are dropped too.
  Result<SyncStats> set_leases(const std::vector<Lease>& desired);
  Result<SyncStats> set_reserved(const std::vector<ipam::IpRange>& ranges);
  Result<SyncStats> set_pools(const std::vector<ipam::IpRange>& ranges);
  Result<SyncStats> set_pod_macs(const std::vector<std::string>& macs);
  // The same with MACs as bytes (`reserved` is ignored: the guard computes it), as the agent's
  // lease book gives them: at 65,536 leases the text forms' inputs alone are ~10 MB (a MAC as
  // text is a heap block of its own).
  Result<SyncStats> set_lease_entries(const std::vector<LeaseEntry>& desired);
  Result<SyncStats> set_pod_mac_entries(const std::vector<Mac>& macs);
  // Point writes, in order, for a caller that knows what the maps hold (the agent's
  // LeaseBook): one CNI ADD costs a few writes instead of a diff of every lease. A lease gets
  // its reserved flag as set_leases gives it; erasing what is not there is no error. Stops at
  // the first failure (a full map: ErrorCode::exhausted), leaving the earlier writes done; the
  // caller then goes back to the set_ calls.
  Status apply(const std::vector<MapEdit>& edits);

  Result<std::vector<LeaseEntry>> leases() const;  // sorted by address
  // The prefixes in one of the reserved or pool tries, sorted.
  Result<std::vector<ipam::IpPrefix>> prefixes(GuardMap map) const;
  Result<std::vector<CounterRow>> counters() const;  // sorted by (iface, reason, verdict)
  Result<std::vector<CounterRow>> counters(const IfaceKey& iface) const;

  int prog_fd() const;
  std::uint32_t prog_id() const;
  int map_fd(GuardMap map) const;
  std::uint32_t map_id(GuardMap map) const;
  std::uint32_t map_capacity(GuardMap map) const;
  const GuardOptions& options() const;
  // Things open() wants the operator to know (e.g. a pinned map kept its old capacity).
  const std::vector<std::string>& warnings() const;

 private:
  struct Impl;
  explicit Guard(std::unique_ptr<Impl> impl);
  Status sync_reserved_flags();
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipfence::datapath
