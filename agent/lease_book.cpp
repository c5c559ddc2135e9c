#include "agent/lease_book.h"

#include <algorithm>
#include <iterator>

namespace ipfence::agent {

using datapath::MapEdit;

template <std::size_t N>
LeaseBook::Entry<N> LeaseBook::entry_of(const ipam::IpAddress& ip, const MacBytes& mac) {
  Entry<N> entry;
  const auto bytes = ip.to_bytes();
  std::copy_n(bytes.begin(), N, entry.ip.begin());
  entry.mac = mac;
  return entry;
}

template <std::size_t N>
ipam::IpAddress LeaseBook::address_of(const Entry<N>& entry) {
  return ipam::IpAddress::from_bytes(N == 4 ? ipam::IpFamily::v4 : ipam::IpFamily::v6,
                                     entry.ip.data());
}

bool LeaseBook::pod_holds(const ipam::IpAddress& ip) const {
  return ip.is_v4() ? v4_.contains(entry_of<4>(ip, {})) : v6_.contains(entry_of<16>(ip, {}));
}

const datapath::LeaseEntry* LeaseBook::host_at(const ipam::IpAddress& ip) const {
  const auto it = std::lower_bound(
      host_.begin(), host_.end(), ip,
      [](const datapath::LeaseEntry& e, const ipam::IpAddress& a) { return e.ip < a; });
  return it != host_.end() && it->ip == ip ? &*it : nullptr;
}

void LeaseBook::changed(const ipam::IpAddress& ip, const MacBytes* before, const MacBytes* after,
                        Edits* edits) {
  if (before != nullptr && after != nullptr && *before == *after) return;
  if (before != nullptr) --mac_delta_[*before];
  if (after != nullptr) ++mac_delta_[*after];
  if (edits == nullptr) return;
  if (after != nullptr) {
    lease_edits_.push_back({MapEdit::Kind::put_lease, ip, datapath::Mac{*after}});
  } else if (const datapath::LeaseEntry* own = host_at(ip)) {
    lease_edits_.push_back({MapEdit::Kind::put_lease, ip, own->mac});
  } else {
    lease_edits_.push_back({MapEdit::Kind::erase_lease, ip, {}});
  }
}

void LeaseBook::finish(Edits* edits) {
  Edits erased_macs;
  for (const auto& [mac, delta] : mac_delta_) {
    if (delta == 0) continue;
    const auto [first, last] = mac_refs_.equal_range(mac);
    const auto before = static_cast<std::int64_t>(std::distance(first, last));
    const std::int64_t after = before + delta;
    if (after <= 0) {
      mac_refs_.erase(first, last);
      if (before > 0) {
        --distinct_macs_;
        if (edits != nullptr)
          erased_macs.push_back({MapEdit::Kind::erase_pod_mac, {}, datapath::Mac{mac}});
      }
      continue;
    }
    if (before == 0) {
      ++distinct_macs_;
      if (edits != nullptr) edits->push_back({MapEdit::Kind::put_pod_mac, {}, datapath::Mac{mac}});
    }
    for (std::int64_t n = before; n < after; ++n) mac_refs_.insert(mac);
    for (std::int64_t n = after; n < before; ++n) mac_refs_.erase(mac_refs_.find(mac));
  }
  mac_delta_.clear();
  if (edits != nullptr) {
    edits->insert(edits->end(), lease_edits_.begin(), lease_edits_.end());
    edits->insert(edits->end(), erased_macs.begin(), erased_macs.end());
  }
  lease_edits_.clear();
}

namespace {

// Sorts `entries` by address and drops repeats; an address given twice with different MACs is
// an error that names it.
template <class Entry, class Less, class AddressOf>
Status sort_unique(std::vector<Entry>& entries, Less less, AddressOf address_of) {
  std::sort(entries.begin(), entries.end(), less);
  const auto same_address = [](const Entry& a, const Entry& b) { return a.ip == b.ip; };
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (same_address(entries[i - 1], entries[i]) && entries[i - 1].mac != entries[i].mac)
      return make_error(ErrorCode::invalid_argument, "lease " + address_of(entries[i]).to_string() +
                                                         " is given twice, with different MACs");
  entries.erase(std::unique(entries.begin(), entries.end(), same_address), entries.end());
  return {};
}

}  // namespace

Status LeaseBook::set_pods(const std::vector<PodLease>& leases, Edits* edits) {
  std::vector<Entry<4>> wanted_v4;
  std::vector<Entry<16>> wanted_v6;
  for (const auto& lease : leases) {
    if (lease.ip.is_v4())
      wanted_v4.push_back(entry_of<4>(lease.ip, lease.mac.bytes));
    else
      wanted_v6.push_back(entry_of<16>(lease.ip, lease.mac.bytes));
  }
  // Both checked before either family changes: a bad snapshot changes nothing.
  IPF_TRY(sort_unique(wanted_v4, ByAddress<4>{}, &address_of<4>));
  IPF_TRY(sort_unique(wanted_v6, ByAddress<16>{}, &address_of<16>));
  replace(v4_, wanted_v4, edits);  // IPv4 first: the edits stay in address order
  replace(v6_, wanted_v6, edits);
  finish(edits);
  return {};
}

template <std::size_t N>
void LeaseBook::replace(Set<N>& have, const std::vector<Entry<N>>& wanted, Edits* edits) {
  // An empty book (the first snapshot) takes `wanted` as it is.
  if (have.empty()) {
    for (const Entry<N>& want : wanted) changed(address_of(want), nullptr, &want.mac, edits);
    have.insert(wanted.begin(), wanted.end());
    return;
  }
  // One merge walk over the book and `wanted`; the book itself changes after it, by the
  // difference only (a snapshot usually differs from the last one by a few leases).
  std::vector<Entry<N>> puts;
  std::vector<Entry<N>> erases;
  const ByAddress<N> less;
  auto it = have.begin();
  for (const Entry<N>& want : wanted) {
    for (; it != have.end() && less(*it, want); ++it) {
      changed(address_of(*it), &it->mac, nullptr, edits);
      erases.push_back(*it);
    }
    if (it != have.end() && !less(want, *it)) {
      if (it->mac != want.mac) {
        changed(address_of(want), &it->mac, &want.mac, edits);
        puts.push_back(want);
      }
      ++it;
    } else {
      changed(address_of(want), nullptr, &want.mac, edits);
      puts.push_back(want);
    }
  }
  for (; it != have.end(); ++it) {
    changed(address_of(*it), &it->mac, nullptr, edits);
    erases.push_back(*it);
  }
  for (const Entry<N>& e : erases) have.erase(e);
  for (const Entry<N>& e : puts) {
    have.erase(e);  // by address: a lease whose MAC changed
    have.insert(e);
  }
}

template <std::size_t N>
void LeaseBook::put(Set<N>& set, const ipam::IpAddress& ip, const MacBytes& mac, Edits* edits) {
  const Entry<N> want = entry_of<N>(ip, mac);
  auto it = set.find(want);
  if (it == set.end()) {
    changed(ip, nullptr, &want.mac, edits);
    set.insert(want);
  } else if (it->mac != want.mac) {
    changed(ip, &it->mac, &want.mac, edits);
    set.erase(it);
    set.insert(want);
  }
}

template <std::size_t N>
void LeaseBook::erase(Set<N>& set, const ipam::IpAddress& ip, Edits* edits) {
  auto it = set.find(entry_of<N>(ip, {}));
  if (it == set.end()) return;
  changed(ip, &it->mac, nullptr, edits);
  set.erase(it);
}

void LeaseBook::put_pod(const ipam::IpAddress& ip, const datapath::Mac& mac, Edits* edits) {
  if (ip.is_v4())
    put(v4_, ip, mac.bytes, edits);
  else
    put(v6_, ip, mac.bytes, edits);
  finish(edits);
}

void LeaseBook::erase_pod(const ipam::IpAddress& ip, Edits* edits) {
  if (ip.is_v4())
    erase(v4_, ip, edits);
  else
    erase(v6_, ip, edits);
  finish(edits);
}

void LeaseBook::set_host(const std::vector<datapath::LeaseEntry>& host, Edits* edits) {
  std::vector<datapath::LeaseEntry> sorted = host;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const auto& a, const auto& b) { return a.ip == b.ip; }),
               sorted.end());
  if (edits != nullptr) {
    // Only addresses no pod holds are the map's business.
    for (const auto& own : sorted) {
      if (pod_holds(own.ip)) continue;
      const datapath::LeaseEntry* old = host_at(own.ip);
      if (old == nullptr || old->mac != own.mac)
        edits->push_back({MapEdit::Kind::put_lease, own.ip, own.mac});
    }
    for (const auto& old : host_) {
      const bool kept =
          std::binary_search(sorted.begin(), sorted.end(), old,
                             [](const auto& a, const auto& b) { return a.ip < b.ip; });
      if (!kept && !pod_holds(old.ip)) edits->push_back({MapEdit::Kind::erase_lease, old.ip, {}});
    }
  }
  host_ = std::move(sorted);
}

std::vector<datapath::LeaseEntry> LeaseBook::leases() const {
  std::vector<datapath::LeaseEntry> out;
  out.reserve(pod_count() + host_.size());
  auto own = host_.begin();
  const auto flush_host_before = [&](const ipam::IpAddress* ip) {
    for (; own != host_.end() && (ip == nullptr || own->ip <= *ip); ++own)
      if (ip == nullptr || own->ip != *ip) out.push_back({own->ip, own->mac, false});
  };
  const auto add = [&](const auto& set) {
    for (const auto& e : set) {
      const ipam::IpAddress ip = address_of(e);
      flush_host_before(&ip);
      out.push_back({ip, datapath::Mac{e.mac}, false});
    }
  };
  add(v4_);  // every IPv4 address sorts before every IPv6 one
  add(v6_);
  flush_host_before(nullptr);
  return out;
}

std::vector<datapath::Mac> LeaseBook::pod_macs() const {
  std::vector<datapath::Mac> out;
  out.reserve(distinct_macs_);
  for (auto it = mac_refs_.begin(); it != mac_refs_.end(); it = mac_refs_.upper_bound(*it))
    out.push_back(datapath::Mac{*it});
  return out;
}

std::size_t LeaseBook::size() const {
  std::size_t own_only = 0;
  for (const auto& own : host_)
    if (!pod_holds(own.ip)) ++own_only;
  return pod_count() + own_only;
}

}  // namespace ipfence::agent
