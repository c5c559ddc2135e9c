// LeaseBook: what the guard's lease and pod-MAC maps should hold, kept up to date change by
// change, so that one CNI ADD or DEL costs a few map writes instead of a diff of every lease
// on the node (65,536 leases: a full diff is a kernel map dump and MBs of copies per ADD).
//
// The map's leases are the pods' (a store snapshot with the IPAM handlers' overlay, set_pods,
// and single changes, put_pod / erase_pod) plus the node's own addresses on masters where no
// pod holds them (set_host). The pod MACs are the distinct MACs of the pods' leases, counted
// so that a MAC leaves the map with its last lease.
//
// Every call that changes the book appends the map writes that carry the change over (when
// given a list): new pod MACs first, then the leases, then pod MACs no lease uses any more.
// So a lease never names a MAC the map does not know yet, and a pod's MAC stays known until
// its last address is gone. The caller applies them (Guard::apply) or, when the maps may not
// match the book (the first sync, a failed write), writes leases() and pod_macs() whole.
#pragma once

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "agent/datapath/mac.h"
#include "ipam/ip_address.h"

namespace ipfence::agent {

// A pod's lease as snapshots carry it: no heap block (a MAC as text is one, past the short
// string buffer), so a snapshot of 65,536 leases is one vector.
struct PodLease {
  ipam::IpAddress ip;
  datapath::Mac mac;
  bool operator==(const PodLease&) const = default;
};

class LeaseBook {
 public:
  using Edits = std::vector<datapath::MapEdit>;

  // Makes the pods' leases exactly `leases` (any order). An address given twice with
  // different MACs changes nothing, and the error names it.
  Status set_pods(const std::vector<PodLease>& leases, Edits* edits);
  void put_pod(const ipam::IpAddress& ip, const datapath::Mac& mac, Edits* edits);
  void erase_pod(const ipam::IpAddress& ip, Edits* edits);
  // The node's own addresses with their master's MAC (any order; one per address).
  void set_host(const std::vector<datapath::LeaseEntry>& host, Edits* edits);

  // Everything the lease map should hold (sorted by address; `reserved` not set: the guard
  // computes it), and the pod MACs (sorted).
  std::vector<datapath::LeaseEntry> leases() const;
  std::vector<datapath::Mac> pod_macs() const;
  std::size_t size() const;  // entries of the lease map
  std::size_t pod_count() const { return v4_.size() + v6_.size(); }
  std::size_t pod_mac_count() const { return distinct_macs_; }
  std::size_t host_count() const { return host_.size(); }

 private:
  using MacBytes = std::array<std::uint8_t, 6>;
  // A pod lease: the address's bytes in network order (IpAddress::to_bytes), and the MAC.
  // IPv4 and IPv6 leases are kept apart, so that an IPv4 lease is 10 bytes without padding:
  // one set of 24-byte entries for both families cost 28 bytes a lease at 65,536 IPv4 pods,
  // the IPv4 set about half that (the agent's RSS there: -0.9 MB). Ordered by the bytes, i.e.
  // as IpAddress orders one family.
  template <std::size_t N>
  struct Entry {
    std::array<std::uint8_t, N> ip{};
    MacBytes mac{};
  };
  template <std::size_t N>
  struct ByAddress {
    bool operator()(const Entry<N>& a, const Entry<N>& b) const { return a.ip < b.ip; }
  };
  template <std::size_t N>
  using Set = absl::btree_set<Entry<N>, ByAddress<N>>;

  template <std::size_t N>
  static Entry<N> entry_of(const ipam::IpAddress& ip, const MacBytes& mac);
  template <std::size_t N>
  static ipam::IpAddress address_of(const Entry<N>& entry);
  bool pod_holds(const ipam::IpAddress& ip) const;
  // Makes `have` exactly `wanted` (sorted, one entry per address), by the difference only.
  template <std::size_t N>
  void replace(Set<N>& have, const std::vector<Entry<N>>& wanted, Edits* edits);
  template <std::size_t N>
  void put(Set<N>& set, const ipam::IpAddress& ip, const MacBytes& mac, Edits* edits);
  template <std::size_t N>
  void erase(Set<N>& set, const ipam::IpAddress& ip, Edits* edits);

  // One pod lease's MAC changed from `before` to `after` (nullptr: no lease). Records the
  // lease write (a lease going leaves the node's own lease at that address, if any) and the
  // MAC counts.
  void changed(const ipam::IpAddress& ip, const MacBytes* before, const MacBytes* after,
               Edits* edits);
  // Moves the counted MACs on and wraps `lease_edits` in the MAC writes (see above).
  void finish(Edits* edits);
  const datapath::LeaseEntry* host_at(const ipam::IpAddress& ip) const;

  Set<4> v4_;
  Set<16> v6_;
  // The MAC of every pod lease, once per lease: a MAC's count is its leases. 6 bytes a lease,
  // where a map from MAC to count took 12 (65,536 pods: -0.4 MB).
  absl::btree_multiset<MacBytes> mac_refs_;
  std::size_t distinct_macs_ = 0;
  std::vector<datapath::LeaseEntry> host_;  // sorted by address
  // Of the change being recorded: lease writes, and how many more (or fewer) leases name
  // each MAC.
  Edits lease_edits_;
  // A B-tree: a first sync of 65,536 pods with their own MACs counts one delta each (a
  // std::map's nodes were 3 MB of the agent's peak there).
  absl::btree_map<std::array<std::uint8_t, 6>, int> mac_delta_;
};

}  // namespace ipfence::agent
