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

}  // namespace

GuardInputs desired_from_state(const ipam::ClusterState& state, const std::string& node,
                               const std::vector<std::string>& config_masters, WithPods with_pods) {
  GuardInputs in;
  in.revision = state.revision();

  // Masters: the store's configs first (they name the vlan), then the flag, then whatever
  // this node's pods were actually put on (a conflist written by hand, an older config).
  for (const auto& [key, config] : state.multus_configs()) {
    const int vlan = config.spec.macvlan.vlan_id.value_or(0);
    for (const auto& master : config.spec.macvlan.master)
      add_master(in.masters, {master, vlan, "SpiderMultusConfig " + object_name(config.metadata)});
  }
  for (const auto& master : config_masters) add_master(in.masters, {master, 0, "--masters"});

  std::set<std::string> allocation_masters;  // a handful of names, not one per allocation
  for (const auto& [name, pool] : state.pools()) {
    for (const auto& range : pool.ranges.usable.ranges()) in.pools.push_back(range);
    for (const auto& [value, stored] : pool.allocations) {
      const ipam::AllocationRecord& a = stored.record;
      if (a.node() != node) continue;
      if (!a.master().empty()) allocation_masters.insert(a.master());
      if (with_pods == WithPods::yes && !a.netns().empty() && !a.ifname().empty())
        in.pods.push_back({std::string(a.netns()), a.ifname()});
      const std::string text = a.mac();
      if (text.empty()) continue;  // no MAC, no lease: the guard cannot tell the pod apart
      auto mac = datapath::Mac::parse(text);
      if (!mac) {
        in.bad_macs.push_back(a.ip(value).to_string() + " (" + text + ")");
        continue;
      }
      in.leases.push_back({a.ip(value), mac->to_string()});
    }
  }
  for (const auto& master : allocation_masters)
    add_master(in.masters, {master, 0, "allocations on this node"});
  // Sorted and unique, as a set would give them, without a set's node per pod.
  std::sort(in.pods.begin(), in.pods.end());
  in.pods.erase(std::unique(in.pods.begin(), in.pods.end()), in.pods.end());
  in.pods.shrink_to_fit();

  // Pools never overlap and an IP is allocated at most once, so leases are unique already.
  std::sort(in.leases.begin(), in.leases.end(),
            [](const datapath::Lease& a, const datapath::Lease& b) { return a.ip < b.ip; });
  for (ipam::IpFamily family : {ipam::IpFamily::v4, ipam::IpFamily::v6})
    for (const auto& range : state.reserved(family).ranges()) in.reserved.push_back(range);
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

void LeaseOverlay::add(const ipam::IpAddress& ip, const std::string& mac, std::int64_t revision) {
  auto parsed = datapath::Mac::parse(mac);
  changes_[ip] = {true, parsed ? parsed->to_string() : mac, revision};
}

void LeaseOverlay::remove(const ipam::IpAddress& ip, std::int64_t revision) {
  changes_[ip] = {false, "", revision};
}

void LeaseOverlay::settle(std::int64_t revision) {
  std::erase_if(changes_, [&](const auto& entry) { return entry.second.revision <= revision; });
}

std::vector<datapath::Lease> LeaseOverlay::merge(
    const std::vector<datapath::Lease>& snapshot) const {
  std::vector<datapath::Lease> out;
  out.reserve(snapshot.size() + changes_.size());
  for (const auto& lease : snapshot)
    if (!changes_.contains(lease.ip)) out.push_back(lease);
  for (const auto& [ip, change] : changes_)
    if (change.present) out.push_back({ip, change.mac});
  std::sort(out.begin(), out.end(),
            [](const datapath::Lease& a, const datapath::Lease& b) { return a.ip < b.ip; });
  return out;
}

namespace {

// The canonical text of a MAC's bytes, without a heap string.
std::array<char, 17> mac_text(const std::array<std::uint8_t, 6>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 17> text{};
  for (std::size_t i = 0; i < 6; ++i) {
    text[i * 3] = kDigits[bytes[i] >> 4];
    text[i * 3 + 1] = kDigits[bytes[i] & 0xf];
    if (i < 5) text[i * 3 + 2] = ':';
  }
  return text;
}

bool is_text_of(const std::array<std::uint8_t, 6>& bytes, const std::string& text) {
  const std::array<char, 17> canonical = mac_text(bytes);
  return text.size() == canonical.size() &&
         std::equal(canonical.begin(), canonical.end(), text.begin());
}

}  // namespace

CompactLeases::CompactLeases(const std::vector<datapath::Lease>& leases) {
  entries_.reserve(leases.size());
  for (const auto& lease : leases) {
    Entry entry{lease.ip.to_bytes(), lease.ip.family(), {}, false};
    if (auto mac = datapath::Mac::parse(lease.mac); mac && is_text_of(mac->bytes, lease.mac)) {
      entry.mac = mac->bytes;
      entry.canonical = true;
    } else {
      odd_macs_[lease.ip] = lease.mac;
    }
    entries_.push_back(entry);
  }
}

bool CompactLeases::same_as(const std::vector<datapath::Lease>& leases) const {
  if (leases.size() != entries_.size()) return false;
  for (std::size_t i = 0; i < leases.size(); ++i) {
    const Entry& entry = entries_[i];
    if (entry.family != leases[i].ip.family() || entry.ip != leases[i].ip.to_bytes()) return false;
    if (entry.canonical ? !is_text_of(entry.mac, leases[i].mac)
                        : odd_macs_.at(entry.address()) != leases[i].mac)
      return false;
  }
  return true;
}

std::vector<datapath::Lease> CompactLeases::expand() const {
  std::vector<datapath::Lease> leases;
  leases.reserve(entries_.size());
  for (const Entry& entry : entries_) {
    const ipam::IpAddress ip = entry.address();
    if (entry.canonical) {
      const std::array<char, 17> text = mac_text(entry.mac);
      leases.push_back({ip, std::string(text.begin(), text.end())});
    } else {
      leases.push_back({ip, odd_macs_.at(ip)});
    }
  }
  return leases;
}

std::vector<std::string> macs_of(const std::vector<datapath::Lease>& leases) {
  std::set<std::string> macs;
  for (const auto& lease : leases) {
    auto mac = datapath::Mac::parse(lease.mac);
    if (mac) macs.insert(mac->to_string());
  }
  return {macs.begin(), macs.end()};
}

}  // namespace ipfence::agent
