// Guard's map syncs (desired state -> map, writing only the difference) and map reads.
// Per-interface config and counters are in guard_iface.cpp.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/guard.h"
#include "agent/datapath/guard_impl.h"
#include "agent/datapath/prefix_cover.h"

namespace ipfence::datapath {
namespace {

// ABI structs compared and ordered as bytes (they are padded by hand; pads are zero).
template <typename T>
using Bytes = std::array<std::uint8_t, sizeof(T)>;

template <typename T>
Bytes<T> bytes_of(const T& value) {
  Bytes<T> b;
  std::memcpy(b.data(), &value, sizeof(T));
  return b;
}

template <typename T>
T from_bytes(const Bytes<T>& b) {
  T value;
  std::memcpy(&value, b.data(), sizeof(T));
  return value;
}

SyncStats operator+(const SyncStats& a, const SyncStats& b) {
  return {a.added + b.added, a.removed + b.removed, a.changed + b.changed,
          a.unchanged + b.unchanged};
}

Error too_many(const std::string& what, std::size_t count, std::uint32_t capacity) {
  return make_error(ErrorCode::invalid_argument, what + ": " + std::to_string(count) +
                                                     " entries do not fit the map's capacity " +
                                                     std::to_string(capacity));
}

// Desired map contents: sorted by key bytes, one entry per key. Vectors rather than std::map:
// a 65,536-lease sync holds two of these at once, 28 bytes an entry instead of ~80.
template <typename K, typename V>
using Entries = std::vector<std::pair<Bytes<K>, V>>;

// Sorts `entries` and drops repeats of a key with the same value. Returns the index of a key
// given twice with different values, or npos.
template <typename Entry>
std::size_t sort_unique(std::vector<Entry>& entries) {
  const auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(entries.begin(), entries.end(), by_key);
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].first == entries[i - 1].first &&
        std::memcmp(&entries[i].second, &entries[i - 1].second,
                    sizeof(typename Entry::second_type)) != 0)
      return i;
  }
  const auto same = [](const auto& a, const auto& b) { return a.first == b.first; };
  entries.erase(std::unique(entries.begin(), entries.end(), same), entries.end());
  return std::string::npos;
}

// Makes the map hold exactly `desired` (sorted, unique: sort_unique), writing only the
// difference. K is named by the caller: it is not deducible. Additions go first, so that an
// address moving between entries is never in neither (no hole in a drop list), unless the
// map has no room for old and new at once; then removals go first.
template <typename K, typename V>
Result<SyncStats> sync_map(int fd, std::uint32_t capacity, const Entries<K, V>& desired,
                           const std::string& what) {
  if (desired.size() > capacity) return too_many(what, desired.size(), capacity);
  Entries<K, V> current;
  {
    IPF_ASSIGN_OR_RETURN(auto entries, (map_entries<K, V>(fd)));
    current.reserve(entries.size());
    for (const auto& [k, v] : entries) current.emplace_back(bytes_of(k), v);
  }
  std::sort(current.begin(), current.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  // One merge walk over both sorted lists.
  SyncStats stats;
  std::vector<K> removals;
  std::vector<std::pair<K, V>> writes;
  auto cur = current.begin();
  for (const auto& [k, v] : desired) {
    for (; cur != current.end() && cur->first < k; ++cur)
      removals.push_back(from_bytes<K>(cur->first));
    if (cur != current.end() && cur->first == k) {
      const bool same = std::memcmp(&cur->second, &v, sizeof(V)) == 0;
      ++cur;
      if (same) {
        ++stats.unchanged;
        continue;
      }
      ++stats.changed;
    } else {
      ++stats.added;
    }
    writes.emplace_back(from_bytes<K>(k), v);
  }
  for (; cur != current.end(); ++cur) removals.push_back(from_bytes<K>(cur->first));
  stats.removed = removals.size();
  const std::size_t current_size = current.size();
  Entries<K, V>().swap(current);  // not needed while writing

  auto remove_all = [&]() -> Status {
    for (const K& k : removals) IPF_TRY(map_delete(fd, k));
    return {};
  };
  auto write_all = [&]() -> Status {
    for (const auto& [k, v] : writes) IPF_TRY(map_update(fd, k, v));
    return {};
  };
  Status st;
  if (current_size + stats.added <= capacity) {
    st = write_all();
    if (st) st = remove_all();
  } else {
    st = remove_all();
    if (st) st = write_all();
  }
  if (!st) return st.error().wrap("sync " + what);
  return stats;
}

ipf_lease_key lease_key(const ipam::IpAddress& ip) {
  ipf_lease_key key{};
  key.family = ip.is_v4() ? IPF_FAMILY_V4 : IPF_FAMILY_V6;
  const auto bytes = ip.to_bytes();
  std::memcpy(key.addr, bytes.data(), ip.is_v4() ? 4 : 16);
  return key;
}

// `merged` is sorted and non-overlapping (merge_ranges).
bool in_ranges(const std::vector<ipam::IpRange>& merged, const ipam::IpAddress& ip) {
  auto it = std::upper_bound(
      merged.begin(), merged.end(), ip,
      [](const ipam::IpAddress& a, const ipam::IpRange& r) { return a < r.first; });
  return it != merged.begin() && std::prev(it)->contains(ip);
}

std::uint8_t lease_flags(const std::vector<ipam::IpRange>& reserved, const ipam::IpAddress& ip) {
  return in_ranges(reserved, ip) ? IPF_LEASE_F_RESERVED : 0;
}

// A lease as the map holds it: the pod's MAC and the grandfather flag (`reserved` merged).
ipf_lease lease_value(const Mac& mac, const std::vector<ipam::IpRange>& reserved,
                      const ipam::IpAddress& ip) {
  ipf_lease value{};
  std::memcpy(value.mac, mac.bytes.data(), sizeof(value.mac));
  value.flags = lease_flags(reserved, ip);
  return value;
}

ipf_mac_key mac_key(const Mac& mac) {
  ipf_mac_key key{};
  std::memcpy(key.mac, mac.bytes.data(), sizeof(key.mac));
  return key;
}

Status validate_ranges(const std::vector<ipam::IpRange>& ranges) {
  for (const ipam::IpRange& r : ranges) {
    if (r.first.family() != r.last.family() || r.last < r.first) {
      return make_error(ErrorCode::invalid_argument, "invalid range " + r.to_string());
    }
  }
  return {};
}

template <typename Key>
Key lpm_key(const ipam::IpPrefix& prefix) {
  Key key{};
  key.prefixlen = prefix.length;
  const auto bytes = prefix.network().to_bytes();
  std::memcpy(key.addr, bytes.data(), sizeof(key.addr));
  return key;
}

template <typename Key>
Result<std::vector<ipam::IpPrefix>> read_trie(int fd, ipam::IpFamily family) {
  IPF_ASSIGN_OR_RETURN(std::vector<Key> keys, map_keys<Key>(fd));
  std::vector<ipam::IpPrefix> out;
  for (const Key& k : keys) {
    out.push_back(
        {ipam::IpAddress::from_bytes(family, k.addr), static_cast<std::uint8_t>(k.prefixlen)});
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Makes the v4 and v6 tries hold the minimal cover of `ranges`.
Result<SyncStats> sync_tries(const Guard& guard, const std::vector<ipam::IpRange>& ranges,
                             GuardMap v4_map, GuardMap v6_map, const std::string& what) {
  IPF_TRY(validate_ranges(ranges));
  Entries<ipf_lpm_v4_key, __u8> v4;
  Entries<ipf_lpm_v6_key, __u8> v6;
  for (const ipam::IpPrefix& p : minimal_prefix_cover(ranges)) {
    if (p.family() == ipam::IpFamily::v4) {
      v4.emplace_back(bytes_of(lpm_key<ipf_lpm_v4_key>(p)), 1);
    } else {
      v6.emplace_back(bytes_of(lpm_key<ipf_lpm_v6_key>(p)), 1);
    }
  }
  sort_unique(v4);
  sort_unique(v6);
  // Both checked before either is written.
  if (v4.size() > guard.map_capacity(v4_map))
    return too_many(what + " (IPv4 prefixes)", v4.size(), guard.map_capacity(v4_map));
  if (v6.size() > guard.map_capacity(v6_map))
    return too_many(what + " (IPv6 prefixes)", v6.size(), guard.map_capacity(v6_map));
  IPF_ASSIGN_OR_RETURN(
      SyncStats a, sync_map<ipf_lpm_v4_key>(guard.map_fd(v4_map), guard.map_capacity(v4_map), v4,
                                            what + " IPv4"));
  IPF_ASSIGN_OR_RETURN(
      SyncStats b, sync_map<ipf_lpm_v6_key>(guard.map_fd(v6_map), guard.map_capacity(v6_map), v6,
                                            what + " IPv6"));
  return a + b;
}

}  // namespace

Result<SyncStats> Guard::set_leases(const std::vector<Lease>& desired) {
  std::vector<LeaseEntry> entries;
  entries.reserve(desired.size());
  for (const Lease& lease : desired) {
    Result<Mac> mac = Mac::parse(lease.mac);
    if (!mac) return mac.error().wrap("lease " + lease.ip.to_string());
    entries.push_back({lease.ip, *mac, false});
  }
  return set_lease_entries(entries);
}

Result<SyncStats> Guard::set_lease_entries(const std::vector<LeaseEntry>& desired) {
  const CacheGenerationBump bump(bpf_map__fd(impl_->skel->maps.ipf_judge_gen));
  Entries<ipf_lease_key, ipf_lease> want;
  want.reserve(desired.size());
  for (const LeaseEntry& lease : desired)
    want.emplace_back(bytes_of(lease_key(lease.ip)),
                      lease_value(lease.mac, impl_->reserved, lease.ip));
  if (const std::size_t twice = sort_unique(want); twice != std::string::npos) {
    const ipf_lease_key key = from_bytes<ipf_lease_key>(want[twice].first);
    const ipam::IpAddress ip = ipam::IpAddress::from_bytes(
        key.family == IPF_FAMILY_V4 ? ipam::IpFamily::v4 : ipam::IpFamily::v6, key.addr);
    return make_error(ErrorCode::invalid_argument,
                      "lease " + ip.to_string() + " is given twice, with different MACs");
  }
  return sync_map<ipf_lease_key>(map_fd(GuardMap::leases), map_capacity(GuardMap::leases), want,
                                 "leases");
}

Result<SyncStats> Guard::set_reserved(const std::vector<ipam::IpRange>& ranges) {
  const CacheGenerationBump bump(bpf_map__fd(impl_->skel->maps.ipf_judge_gen));
  IPF_ASSIGN_OR_RETURN(SyncStats stats, sync_tries(*this, ranges, GuardMap::reserved_v4,
                                                   GuardMap::reserved_v6, "reserved"));
  impl_->reserved = merge_ranges(ranges);
  IPF_TRY(sync_reserved_flags());
  return stats;
}

// Recomputes IPF_LEASE_F_RESERVED of every lease against impl_->reserved.
Status Guard::sync_reserved_flags() {
  const int fd = map_fd(GuardMap::leases);
  IPF_ASSIGN_OR_RETURN(auto entries, (map_entries<ipf_lease_key, ipf_lease>(fd)));
  for (auto [key, value] : entries) {
    const ipam::IpFamily family =
        key.family == IPF_FAMILY_V4 ? ipam::IpFamily::v4 : ipam::IpFamily::v6;
    const std::uint8_t flags =
        lease_flags(impl_->reserved, ipam::IpAddress::from_bytes(family, key.addr));
    if (flags == value.flags) continue;
    value.flags = flags;
    const int err = bpf_map_update_elem(fd, &key, &value, BPF_EXIST);  // never resurrect
    if (err != 0 && err != -ENOENT) return os_error("update lease flags", err);
  }
  return {};
}

Result<SyncStats> Guard::set_pools(const std::vector<ipam::IpRange>& ranges) {
  const CacheGenerationBump bump(bpf_map__fd(impl_->skel->maps.ipf_judge_gen));
  return sync_tries(*this, ranges, GuardMap::pools_v4, GuardMap::pools_v6, "pools");
}

Result<SyncStats> Guard::set_pod_macs(const std::vector<std::string>& macs) {
  std::vector<Mac> parsed;
  parsed.reserve(macs.size());
  for (const std::string& text : macs) {
    IPF_ASSIGN_OR_RETURN(Mac mac, Mac::parse(text));
    parsed.push_back(mac);
  }
  return set_pod_mac_entries(parsed);
}

Result<SyncStats> Guard::set_pod_mac_entries(const std::vector<Mac>& macs) {
  const CacheGenerationBump bump(bpf_map__fd(impl_->skel->maps.ipf_judge_gen));
  Entries<ipf_mac_key, __u8> want;
  want.reserve(macs.size());
  for (const Mac& mac : macs) want.emplace_back(bytes_of(mac_key(mac)), 1);
  sort_unique(want);
  return sync_map<ipf_mac_key>(map_fd(GuardMap::pod_macs), map_capacity(GuardMap::pod_macs), want,
                               "pod MACs");
}

Status Guard::apply(const std::vector<MapEdit>& edits) {
  if (edits.empty()) return {};
  const CacheGenerationBump bump(bpf_map__fd(impl_->skel->maps.ipf_judge_gen));
  const int leases_fd = map_fd(GuardMap::leases);
  const int macs_fd = map_fd(GuardMap::pod_macs);
  for (const MapEdit& edit : edits) {
    int err = 0;
    std::string what;
    switch (edit.kind) {
      case MapEdit::Kind::put_lease: {
        const ipf_lease_key key = lease_key(edit.ip);
        const ipf_lease value = lease_value(edit.mac, impl_->reserved, edit.ip);
        err = bpf_map_update_elem(leases_fd, &key, &value, BPF_ANY);
        what = "lease " + edit.ip.to_string();
        break;
      }
      case MapEdit::Kind::erase_lease: {
        const ipf_lease_key key = lease_key(edit.ip);
        err = bpf_map_delete_elem(leases_fd, &key);
        what = "lease " + edit.ip.to_string();
        break;
      }
      case MapEdit::Kind::put_pod_mac:
      case MapEdit::Kind::erase_pod_mac: {
        const ipf_mac_key key = mac_key(edit.mac);
        const __u8 one = 1;
        err = edit.kind == MapEdit::Kind::put_pod_mac
                  ? bpf_map_update_elem(macs_fd, &key, &one, BPF_ANY)
                  : bpf_map_delete_elem(macs_fd, &key);
        what = "pod MAC " + edit.mac.to_string();
        break;
      }
    }
    const bool erase =
        edit.kind == MapEdit::Kind::erase_lease || edit.kind == MapEdit::Kind::erase_pod_mac;
    if (err == 0 || (erase && err == -ENOENT)) continue;
    if (err == -E2BIG) {
      const GuardMap full =
          edit.kind == MapEdit::Kind::put_lease ? GuardMap::leases : GuardMap::pod_macs;
      return make_error(
          ErrorCode::exhausted,
          what + ": the map is full (capacity " + std::to_string(map_capacity(full)) +
              "); raise --max-leases (a pinned map keeps its size until its pin is removed)");
    }
    return os_error((erase ? "delete " : "write ") + what, err).wrap("guard maps");
  }
  return {};
}

Result<std::vector<LeaseEntry>> Guard::leases() const {
  IPF_ASSIGN_OR_RETURN(auto entries,
                       (map_entries<ipf_lease_key, ipf_lease>(map_fd(GuardMap::leases))));
  std::vector<LeaseEntry> out;
  for (const auto& [key, value] : entries) {
    LeaseEntry e;
    e.ip = ipam::IpAddress::from_bytes(
        key.family == IPF_FAMILY_V4 ? ipam::IpFamily::v4 : ipam::IpFamily::v6, key.addr);
    std::memcpy(e.mac.bytes.data(), value.mac, sizeof(value.mac));
    e.reserved = (value.flags & IPF_LEASE_F_RESERVED) != 0;
    out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<ipam::IpPrefix>> Guard::prefixes(GuardMap map) const {
  switch (map) {
    case GuardMap::reserved_v4:
    case GuardMap::pools_v4:
      return read_trie<ipf_lpm_v4_key>(map_fd(map), ipam::IpFamily::v4);
    case GuardMap::reserved_v6:
    case GuardMap::pools_v6:
      return read_trie<ipf_lpm_v6_key>(map_fd(map), ipam::IpFamily::v6);
    default:
      return make_error(ErrorCode::invalid_argument, "prefixes(): not a reserved or pool trie");
  }
}

}  // namespace ipfence::datapath
