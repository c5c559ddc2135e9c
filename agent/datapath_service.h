// The agent's owner of the eBPF guard (datapath/guard.h): one Guard behind one mutex, fed by
// two writers. The store watcher (datapath_listener.h) hands it snapshots of the desired
// state, which it pushes as diffs; the IPAM handlers (lease_sink.h) add and remove leases
// synchronously, so that a lease is enforced before the CNI plugin hears of it. Leases and pod
// MACs go through a LeaseBook (lease_book.h): once the maps are known to match it, a change
// (an ADD, a DEL, a snapshot that differs by a few leases) is written as the few map writes it
// takes; the whole book is written as a diff against the maps' contents only at the first sync
// and after a failed write.
//
// Masters are attached when first wanted, and detached when nothing names them any more (no
// SpiderMultusConfig, --masters entry or allocation on this node) for a few seconds: masters
// this run attached and masters an earlier run recorded alike, and only our own filter
// (Guard::detach). Not at shutdown: the filters and pinned maps outlive the agent, so
// enforcement goes on while it restarts. A restarted agent attaches every master again, which
// replaces the predecessor's program in place: no gap, never two filters.
//
// The guard keeps config and counters per attachment (datapath::IfaceKey: netns cookie and
// ifindex), so a master and a pod interface with the same ifindex in their own namespaces
// never share them. Masters get their --master-mode (or --guard-mode) and --reserved-policy
// written on attach; pod guards get no entry and run with the program's defaults, which are
// --guard-mode and --reserved-policy. A released pod's guard takes its counters with it, and
// the first sync forgets those of pods that went while no agent ran.
//
// With pod guards on, the pod socket-option guard (datapath/sockopt_guard.h) runs on the pods'
// cgroup (--pod-cgroup): every pod namespace that gets a pod guard is also one whose sockets
// may not turn on PACKET_QDISC_BYPASS or use AF_XDP, the two ways around the pod guard's TC
// hook. Its namespaces follow the pod guards: added on attach, removed when the namespace's
// last guarded interface is detached, and set to exactly the re-attached ones at the first
// sync.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/datapath/guard.h"
#include "agent/datapath/sockopt_guard.h"
#include "agent/datapath_state.h"
#include "agent/lease_book.h"
#include "agent/lease_sink.h"

namespace ipfence::agent {

struct GuardSettings {
  std::string pin_dir = datapath::kDefaultPinDir;
  datapath::Mode default_mode = datapath::Mode::enforce;
  std::map<std::string, datapath::Mode> master_modes;  // by interface name
  datapath::ReservedPolicy policy = datapath::ReservedPolicy::grandfather;
  bool pod_guard = true;
  // The pods' cgroup v2 directory for the socket-option guard: "auto" (the kubelet's, if
  // found), "" (off) or a path.
  std::string pod_cgroup = "auto";
  datapath::GuardCapacities capacities;
};

// From a finalized config (values already checked).
GuardSettings guard_settings(const AgentConfig& config);

// OK when `dir`, or its closest existing ancestor, is on a bpf filesystem; otherwise an
// error that says how to mount one, or how to run without the guard.
Status check_bpf_pin_dir(const std::string& dir);

// One guard counter with the interface it belongs to, for metrics.
struct GuardCounter {
  // A master's interface name (or "ifindex:N" when the agent's namespace has no interface
  // with that ifindex any more); empty for a pod-side guard.
  std::string master;
  datapath::Reason reason = datapath::Reason::none;
  datapath::Verdict verdict = datapath::Verdict::passed;
  std::uint64_t packets = 0;
  datapath::IfaceKey iface{};  // which counter of the guard's this is
  bool pod = false;            // a pod-side guard (an interface in another namespace)
};

class DatapathService final : public LeaseSink {
 public:
  // Checks the pin dir, opens the guard (adopting pinned maps) and logs its warnings. Attaches
  // nothing yet: the first sync() does, after filling the maps.
  static Result<std::unique_ptr<DatapathService>> open(GuardSettings settings);

  // Pushes `snapshot` (nullptr: nothing new) and whatever is still pending: failed writes,
  // masters that did not exist yet, the node's own addresses (re-read every second).
  void sync(GuardInputs* snapshot);

  Status on_allocated(const std::vector<ipam::Allocation>& leases, std::int64_t revision) override;
  Status on_released(const std::vector<ipam::Allocation>& released, std::int64_t revision) override;

  Result<nlohmann::json> guards_json() const;  // GET /v1/guards
  nlohmann::json status_json() const;          // /v1/status "guard"
  Result<std::vector<GuardCounter>> counters() const;
  std::size_t lease_count() const;  // as last written to the map
  // The socket-option guard's refusals; empty when it is off.
  Result<std::vector<datapath::SockoptCounter>> sockopt_counters() const;

 private:
  struct Pushed {  // what the trie maps hold, as last written successfully
    std::vector<ipam::IpRange> pools, reserved;
    bool pools_ok = false, reserved_ok = false;
  };
  struct Master {
    int ifindex = 0;
    std::string source;
  };
  struct Wanted {
    std::string source;  // for logs
    std::string parent;  // the master a vlan interface was named after ("" if none)
  };

  DatapathService(datapath::Guard guard, std::unique_ptr<datapath::SockoptGuard> sockopt,
                  GuardSettings settings);

  // All with mu_ held.
  void refresh_host();
  // Where the book records the map writes of a change: nowhere while the maps may not match
  // it (the next push writes it whole).
  LeaseBook::Edits* edits_target() { return leases_in_sync_ ? &pending_ : nullptr; }
  void book_snapshot();
  Status push_maps();
  Status push_leases();
  Status attach_master(const std::string& ifname, const Wanted& wanted);
  void attach_wanted_masters();
  void detach_unwanted_masters();
  Status attach_pod(const std::string& netns, const std::string& ifname);
  void detach_pod(const PodInterface& pod);
  void sync_sockopt_netns();
  nlohmann::json sockopt_json() const;
  void report(const std::string& what, const Status& status);
  std::string master_of(std::uint32_t ifindex) const;

  mutable std::mutex mu_;
  datapath::Guard guard_;
  std::unique_ptr<datapath::SockoptGuard> sockopt_;  // null: off
  // Pod interfaces this run guards, with their namespace's cookie (for the sockopt guard).
  std::map<PodInterface, std::uint64_t> pod_netns_;
  GuardSettings settings_;
  // Without its pods after the first sync, and without its leases once they are in book_.
  GuardInputs snapshot_;
  bool pods_to_book_ = false;  // snapshot_'s leases (or changes) are not in book_ yet
  bool synced_once_ = false;
  LeaseOverlay overlay_;
  Pushed pushed_;
  // The leases and pod MACs the maps should hold: the last snapshot's with overlay_ applied,
  // and the node's own addresses. leases_in_sync_: the maps hold the book, but for the writes
  // in pending_.
  LeaseBook book_;
  bool leases_in_sync_ = false;
  LeaseBook::Edits pending_;
  std::size_t leases_in_map_ = 0;  // book_.size() as last written

  std::map<std::string, Master> masters_;  // attached by this agent, by interface name
  // Wanted masters as resolved at the last host refresh, by interface name.
  std::map<std::string, Wanted> wanted_;
  // Masters the IPAM handlers attached for an allocation, with its revision: wanted until a
  // snapshot at or past that revision names them itself (as LeaseOverlay does for leases).
  std::map<std::string, std::int64_t> allocation_masters_;
  // Guarded masters that nothing names, since when (detached after kDetachGrace).
  std::map<std::string, std::chrono::steady_clock::time_point> unwanted_since_;
  std::chrono::steady_clock::time_point next_host_refresh_{};
  std::map<std::string, std::string> last_error_;  // what -> message, to log each once
};

}  // namespace ipfence::agent
