// What the guard's maps and attachments should be, computed from the agent's view of the
// store. Pure functions with no BPF and no OS calls, so the rules are unit tested on a
// ClusterState built from a memory store:
//   leases    this node's allocations that carry a MAC (the pod's interface)
//   pod MACs  the MACs of those leases (the consumer's LeaseBook derives them after merging
//             its overlay, so the snapshot does not carry a second copy)
//   reserved  every reserved IP of both families, as ranges
//   pools     the usable ranges (ips - excludeIPs - gateway) of every pool
//   masters   SpiderMultusConfig masters (with their vlanID), --masters, and the masters this
//             node's allocations were made on
// The overlay merges in what the IPAM handlers changed after the snapshot was taken
// (lease_sink.h), so a snapshot that is one tick old never takes back a fresh lease.
//
// A snapshot is full (every lease of the node) or a change set: the leases of the addresses
// the store events since the last snapshot touched (desired_changes), so that a store change
// costs the node's agent what it changed, not a pass over every pod on the node.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "agent/lease_book.h"
#include "ipam/cluster_state.h"

namespace ipfence::agent {

// An interface to guard, as named by its source. A SpiderMultusConfig with vlanID N guards
// "<master>.<N>" when that interface exists, else the master (resolve_master).
struct MasterWant {
  std::string master;
  int vlan_id = 0;     // 0: none
  std::string source;  // for logs: "SpiderMultusConfig kube-system/macvlan-ens192", "--masters"
  bool operator==(const MasterWant&) const = default;
};

// A pod interface to guard from inside its network namespace.
struct PodInterface {
  std::string netns;  // path, e.g. /var/run/netns/pod1
  std::string ifname;
  auto operator<=>(const PodInterface&) const = default;
};

// One address whose lease a change set names: leased to `mac` now, or to no pod of this node.
struct LeaseChange {
  ipam::IpAddress ip;
  std::optional<datapath::Mac> mac;
  bool operator==(const LeaseChange&) const = default;
};

struct GuardInputs {
  std::int64_t revision = 0;     // the view's revision the snapshot was taken at
  bool full = true;              // `leases` holds every lease; else `lease_changes` what changed
  std::vector<PodLease> leases;  // sorted by address, one per address
  std::vector<LeaseChange> lease_changes;  // sorted by address, one per address
  std::vector<ipam::IpRange> reserved;
  std::vector<ipam::IpRange> pools;
  std::vector<MasterWant> masters;    // unique by (master, vlan_id), first source kept
  std::vector<PodInterface> pods;     // this node's allocations with netns and ifname
  std::vector<std::string> bad_macs;  // "10.6.168.133 (xx)": allocations whose MAC is unusable
};

// Whether a snapshot lists the pod interfaces. The service reads them at its first sync only
// (to take over the pod guards of an earlier run), so later snapshots leave out one entry
// per pod.
enum class WithPods : bool { no, yes };

// The snapshot for `node`. `config_masters` are the --masters flag's. `allocation_masters`,
// when given, gets the masters this node's allocations were made on.
GuardInputs desired_from_state(const ipam::ClusterState& state, const std::string& node,
                               const std::vector<std::string>& config_masters,
                               WithPods with_pods = WithPods::yes,
                               std::set<std::string>* allocation_masters = nullptr);

// A change set for `node` (full = false): the current lease of every allocation address that
// `events` (the store events that brought `state` here) touched, and everything else as
// desired_from_state gives it but the pods. The masters of allocations are
// `allocation_masters` (what the caller knows from earlier snapshots), plus those of the
// touched allocations, which are added to it.
GuardInputs desired_changes(const ipam::ClusterState& state, const std::string& node,
                            const std::vector<std::string>& config_masters,
                            const std::vector<store::Event>& events,
                            std::set<std::string>& allocation_masters);

// The interface that guards `want`: "<master>.<vlan>" if `exists` says so, else the master.
// `note` says which and why, for the log ("" when there is no vlan).
std::string resolve_master(const MasterWant& want,
                           const std::function<bool(const std::string&)>& exists,
                           std::string* note = nullptr);

// What the IPAM handlers added or removed since a snapshot, by address. An entry is dropped
// once a snapshot at or past its revision has been applied: that snapshot holds it already.
class LeaseOverlay {
 public:
  struct Change {
    bool present = false;  // added (with mac) or removed
    datapath::Mac mac;
    std::int64_t revision = 0;
  };

  void add(const ipam::IpAddress& ip, const datapath::Mac& mac, std::int64_t revision);
  void remove(const ipam::IpAddress& ip, std::int64_t revision);
  // Forgets every change a snapshot at `revision` already reflects.
  void settle(std::int64_t revision);
  bool empty() const { return changes_.empty(); }
  // Whether a change to `ip` is still held: it is newer than every snapshot settled so far.
  bool holds(const ipam::IpAddress& ip) const { return changes_.contains(ip); }

  // The snapshot's leases with the changes applied (sorted by address, one per address).
  // Takes the snapshot's vector: tens of thousands of leases are not copied.
  std::vector<PodLease> merge(std::vector<PodLease> snapshot) const;

 private:
  std::map<ipam::IpAddress, Change> changes_;
};

}  // namespace ipfence::agent
