#include "agent/lease_book.h"

#include <algorithm>

namespace ipfence::agent {

using datapath::MapEdit;

LeaseBook::Entry LeaseBook::entry_of(const ipam::IpAddress& ip, const datapath::Mac& mac) {
  return Entry{ip.family(), ip.to_bytes(), mac.bytes};
}

const datapath::LeaseEntry* LeaseBook::host_at(const ipam::IpAddress& ip) const {
  const auto it = std::lower_bound(
      host_.begin(), host_.end(), ip,
      [](const datapath::LeaseEntry& e, const ipam::IpAddress& a) { return e.ip < a; });
  return it != host_.end() && it->ip == ip ? &*it : nullptr;
}

void LeaseBook::changed(const ipam::IpAddress& ip, const Entry* before, const Entry* after,
                        Edits* edits) {
  if (before != nullptr && after != nullptr && before->mac == after->mac) return;
  if (before != nullptr) --mac_delta_[before->mac];
  if (after != nullptr) ++mac_delta_[after->mac];
  if (edits == nullptr) return;
  if (after != nullptr) {
    lease_edits_.push_back({MapEdit::Kind::put_lease, ip, datapath::Mac{after->mac}});
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
    auto it = mac_refs_.find(mac);
    const std::int64_t before = it == mac_refs_.end() ? 0 : it->second;
    const std::int64_t after = before + delta;
    if (after <= 0) {
      if (it != mac_refs_.end()) mac_refs_.erase(it);
      if (edits != nullptr && before > 0)
        erased_macs.push_back({MapEdit::Kind::erase_pod_mac, {}, datapath::Mac{mac}});
      continue;
    }
    if (it == mac_refs_.end()) {
      mac_refs_.emplace(mac, static_cast<std::uint32_t>(after));
      if (edits != nullptr) edits->push_back({MapEdit::Kind::put_pod_mac, {}, datapath::Mac{mac}});
    } else {
      it->second = static_cast<std::uint32_t>(after);
    }
  }
  mac_delta_.clear();
  if (edits != nullptr) {
    edits->insert(edits->end(), lease_edits_.begin(), lease_edits_.end());
    edits->insert(edits->end(), erased_macs.begin(), erased_macs.end());
  }
  lease_edits_.clear();
}

Status LeaseBook::set_pods(const std::vector<PodLease>& leases, Edits* edits) {
  std::vector<Entry> wanted;
  wanted.reserve(leases.size());
  for (const auto& lease : leases) wanted.push_back(entry_of(lease.ip, lease.mac));
  std::sort(wanted.begin(), wanted.end(), ByAddress{});
  const auto same_address = [](const Entry& a, const Entry& b) {
    return a.family == b.family && a.ip == b.ip;
  };
  for (std::size_t i = 1; i < wanted.size(); ++i)
    if (same_address(wanted[i - 1], wanted[i]) && wanted[i - 1].mac != wanted[i].mac)
      return make_error(ErrorCode::invalid_argument, "lease " + wanted[i].address().to_string() +
                                                         " is given twice, with different MACs");
  wanted.erase(std::unique(wanted.begin(), wanted.end(), same_address), wanted.end());

  // An empty book (the first snapshot) takes `wanted` as it is.
  if (pods_.empty()) {
    for (const Entry& want : wanted) changed(want.address(), nullptr, &want, edits);
    pods_.insert(wanted.begin(), wanted.end());
    finish(edits);
    return {};
  }
  // One merge walk over the book and `wanted`; the book itself changes after it, by the
  // difference only (a snapshot usually differs from the last one by a few leases).
  std::vector<Entry> puts;
  std::vector<Entry> erases;
  const ByAddress less;
  auto have = pods_.begin();
  for (const Entry& want : wanted) {
    for (; have != pods_.end() && less(*have, want); ++have) {
      changed(have->address(), &*have, nullptr, edits);
      erases.push_back(*have);
    }
    if (have != pods_.end() && !less(want, *have)) {
      if (have->mac != want.mac) {
        changed(want.address(), &*have, &want, edits);
        puts.push_back(want);
      }
      ++have;
    } else {
      changed(want.address(), nullptr, &want, edits);
      puts.push_back(want);
    }
  }
  for (; have != pods_.end(); ++have) {
    changed(have->address(), &*have, nullptr, edits);
    erases.push_back(*have);
  }
  for (const Entry& e : erases) pods_.erase(e);
  for (const Entry& e : puts) {
    pods_.erase(e);  // by address: a lease whose MAC changed
    pods_.insert(e);
  }
  finish(edits);
  return {};
}

void LeaseBook::put_pod(const ipam::IpAddress& ip, const datapath::Mac& mac, Edits* edits) {
  const Entry want = entry_of(ip, mac);
  auto it = pods_.find(want);
  if (it == pods_.end()) {
    changed(ip, nullptr, &want, edits);
    pods_.insert(want);
  } else if (it->mac != want.mac) {
    changed(ip, &*it, &want, edits);
    pods_.erase(it);
    pods_.insert(want);
  }
  finish(edits);
}

void LeaseBook::erase_pod(const ipam::IpAddress& ip, Edits* edits) {
  auto it = pods_.find(entry_of(ip, {}));
  if (it == pods_.end()) return;
  changed(ip, &*it, nullptr, edits);
  pods_.erase(it);
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
    const auto pod_holds = [&](const ipam::IpAddress& ip) {
      return pods_.contains(entry_of(ip, {}));
    };
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
  out.reserve(pods_.size() + host_.size());
  auto own = host_.begin();
  const auto flush_host_before = [&](const ipam::IpAddress* ip) {
    for (; own != host_.end() && (ip == nullptr || own->ip <= *ip); ++own)
      if (ip == nullptr || own->ip != *ip) out.push_back({own->ip, own->mac, false});
  };
  for (const Entry& e : pods_) {
    const ipam::IpAddress ip = e.address();
    flush_host_before(&ip);
    out.push_back({ip, datapath::Mac{e.mac}, false});
  }
  flush_host_before(nullptr);
  return out;
}

std::vector<datapath::Mac> LeaseBook::pod_macs() const {
  std::vector<datapath::Mac> out;
  out.reserve(mac_refs_.size());
  for (const auto& [mac, refs] : mac_refs_) out.push_back(datapath::Mac{mac});
  return out;
}

std::size_t LeaseBook::size() const {
  std::size_t own_only = 0;
  for (const auto& own : host_)
    if (!pods_.contains(entry_of(own.ip, {}))) ++own_only;
  return pods_.size() + own_only;
}

}  // namespace ipfence::agent
