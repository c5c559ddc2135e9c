#include "agent/datapath_state.h"

#include <algorithm>
#include <set>

#include "agent/datapath/mac.h"

namespace ipfence::agent {
namespace {

void add_master(std::vector<MasterWant>& masters, MasterWant want) {
  if (want.master.empty()) return;
  const bool known = std::any_of(masters.begin(), masters.end(), [&](const MasterWant& m) {
    return m.master == want.master && m.vlan_id == want.vlan_id;
  });
  if (!known) masters.push_back(std::move(want));
}

std::string object_name(const ipam::ObjectMeta& meta) {
  return meta.namespace_.empty() ? meta.name : meta.namespace_ + "/" + meta.name;
}

constexpr const char* kAllocationMasters = "allocations on this node";

// Masters: the store's configs first (they name the vlan), then the flag; the caller adds
// whatever this node's pods were actually put on (a conflist written by hand, an older
// config).
void add_config_masters(GuardInputs& in, const ipam::ClusterState& state,
                        const std::vector<std::string>& config_masters) {
  for (const auto& [key, config] : state.multus_configs()) {
    const int vlan = config.spec.macvlan.vlan_id.value_or(0);
    for (const auto& master : config.spec.macvlan.master)
      add_master(in.masters, {master, vlan, "SpiderMultusConfig " + object_name(config.metadata)});
  }
  for (const auto& master : config_masters) add_master(in.masters, {master, 0, "--masters"});
}

void add_pools(GuardInputs& in, const ipam::ClusterState& state) {
  for (const auto& [name, pool] : state.pools())
    for (const auto& range : pool.ranges.usable.ranges()) in.pools.push_back(range);
}

void add_reserved(GuardInputs& in, const ipam::ClusterState& state) {
  for (ipam::IpFamily family : {ipam::IpFamily::v4, ipam::IpFamily::v6})
    for (const auto& range : state.reserved(family).ranges()) in.reserved.push_back(range);
}

// The MAC of an allocation's lease; nullopt when it has none or one that does not parse
// (then named in in.bad_macs).
std::optional<datapath::Mac> lease_mac(GuardInputs& in, const ipam::AllocationRecord& a,
                                       const ipam::IpAddress& ip) {
  // Most MACs are kept as bytes: no text is made of them here.
  if (const auto bytes = a.mac_bytes()) return datapath::Mac{*bytes};
  const std::string text = a.mac();
  if (text.empty()) return std::nullopt;  // no MAC, no lease: the guard cannot tell the pod apart
  auto mac = datapath::Mac::parse(text);
  if (!mac) {
    in.bad_macs.push_back(ip.to_string() + " (" + text + ")");
    return std::nullopt;
  }
  return *mac;
}

}  // namespace

GuardInputs desired_from_state(const ipam::ClusterState& state, const std::string& node,
                               const std::vector<std::string>& config_masters, WithPods with_pods,
                               std::set<std::string>* masters_out) {
  GuardInputs in;
  in.revision = state.revision();
  add_config_masters(in, state, config_masters);

  // This runs under the allocator's lock, once per store change, over every allocation: no
  // heap block per allocation, and no more than one lookup of a master name per run of
  // allocations that share it (their shared fields are one interned copy).
  std::set<std::string> allocation_masters;  // a handful of names, not one per allocation
  const std::string* last_master = nullptr;
  std::size_t allocations = 0;
  for (const auto& [name, pool] : state.pools()) allocations += pool.allocations.size();
  in.leases.reserve(allocations);  // an upper bound: all nodes' allocations
  for (const auto& [name, pool] : state.pools()) {
    for (const auto& [value, stored] : pool.allocations) {
      const ipam::AllocationRecord& a = stored.record;
      if (a.node() != node) continue;
      if (&a.master() != last_master) {
        last_master = &a.master();
        if (!last_master->empty()) allocation_masters.insert(*last_master);
      }
      if (with_pods == WithPods::yes && !a.ifname().empty())
        if (std::string netns = a.netns(); !netns.empty())  // unpacked once (id_text.h)
          in.pods.push_back({std::move(netns), a.ifname()});
      const ipam::IpAddress ip = a.ip(value);
      if (const auto mac = lease_mac(in, a, ip)) in.leases.push_back({ip, *mac});
    }
  }
  for (const auto& master : allocation_masters)
    add_master(in.masters, {master, 0, kAllocationMasters});
  if (masters_out != nullptr) *masters_out = std::move(allocation_masters);
  // Sorted and unique, as a set would give them, without a set's node per pod.
  std::sort(in.pods.begin(), in.pods.end());
  in.pods.erase(std::unique(in.pods.begin(), in.pods.end()), in.pods.end());
  in.pods.shrink_to_fit();

  // Pools never overlap and an IP is allocated at most once, so leases are unique already;
  // with one pool (or pools in address order) they come sorted too.
  const auto by_address = [](const PodLease& a, const PodLease& b) { return a.ip < b.ip; };
  if (!std::is_sorted(in.leases.begin(), in.leases.end(), by_address))
    std::sort(in.leases.begin(), in.leases.end(), by_address);
  if (in.leases.capacity() > 2 * in.leases.size() + 1024) in.leases.shrink_to_fit();
  add_pools(in, state);
  add_reserved(in, state);
  return in;
}

GuardInputs desired_changes(const ipam::ClusterState& state, const std::string& node,
                            const std::vector<std::string>& config_masters,
                            const std::vector<store::Event>& events,
                            std::set<std::string>& allocation_masters) {
  GuardInputs in;
  in.revision = state.revision();
  in.full = false;
  add_config_masters(in, state, config_masters);
  for (const auto& event : events) {
    const auto ip = ipam::ip_of_allocation_key(event.kv.key);
    if (!ip) continue;  // not an allocation
    // What the address holds now, whatever the event was: a later event of the same address
    // in this batch, or none at all, leaves the same answer.
    LeaseChange change{*ip, std::nullopt};
    if (const ipam::StoredAllocation* stored = state.allocation(*ip);
        stored != nullptr && stored->record.node() == node) {
      if (!stored->record.master().empty()) allocation_masters.insert(stored->record.master());
      change.mac = lease_mac(in, stored->record, *ip);
    }
    in.lease_changes.push_back(change);
  }
  std::sort(in.lease_changes.begin(), in.lease_changes.end(),
            [](const LeaseChange& a, const LeaseChange& b) { return a.ip < b.ip; });
  in.lease_changes.erase(std::unique(in.lease_changes.begin(), in.lease_changes.end()),
                         in.lease_changes.end());
  std::sort(in.bad_macs.begin(), in.bad_macs.end());
  in.bad_macs.erase(std::unique(in.bad_macs.begin(), in.bad_macs.end()), in.bad_macs.end());
  for (const auto& master : allocation_masters)
    add_master(in.masters, {master, 0, kAllocationMasters});
  add_pools(in, state);
  add_reserved(in, state);
  return in;
}

std::string resolve_master(const MasterWant& want,
                           const std::function<bool(const std::string&)>& exists,
                           std::string* note) {
  if (note) note->clear();
  if (want.vlan_id == 0) return want.master;
  const std::string vlan_if = want.master + "." + std::to_string(want.vlan_id);
  if (exists(vlan_if)) {
    if (note) *note = "vlan " + std::to_string(want.vlan_id) + ": guarding " + vlan_if;
    return vlan_if;
  }
  if (note)
    *note = "vlan " + std::to_string(want.vlan_id) + ": " + vlan_if + " does not exist, guarding " +
            want.master + " (its frames leave through it)";
  return want.master;
}

void LeaseOverlay::add(const ipam::IpAddress& ip, const datapath::Mac& mac, std::int64_t revision) {
  changes_[ip] = {true, mac, revision};
}

void LeaseOverlay::remove(const ipam::IpAddress& ip, std::int64_t revision) {
  changes_[ip] = {false, {}, revision};
}

void LeaseOverlay::settle(std::int64_t revision) {
  std::erase_if(changes_, [&](const auto& entry) { return entry.second.revision <= revision; });
}

std::vector<PodLease> LeaseOverlay::merge(std::vector<PodLease> snapshot) const {
  if (changes_.empty()) return snapshot;
  std::erase_if(snapshot, [&](const PodLease& lease) { return changes_.contains(lease.ip); });
  for (const auto& [ip, change] : changes_)
    if (change.present) snapshot.push_back({ip, change.mac});
  std::sort(snapshot.begin(), snapshot.end(),
            [](const PodLease& a, const PodLease& b) { return a.ip < b.ip; });
  return snapshot;
}

}  // namespace ipfence::agent
