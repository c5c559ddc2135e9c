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
#include <cstdint>
#include <string>
#include <tuple>
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
  std::size_t pod_count() const { return pods_.size(); }
  std::size_t pod_mac_count() const { return mac_refs_.size(); }
  std::size_t host_count() const { return host_.size(); }

 private:
  // A pod lease in 24 bytes (an IpAddress alone is 32: its 128-bit value is 16-aligned).
  // Ordered as IpAddress is: family, then the address's bytes in network order.
  struct Entry {
    ipam::IpFamily family = ipam::IpFamily::v4;
    std::array<std::uint8_t, 16> ip{};  // IpAddress::to_bytes
    std::array<std::uint8_t, 6> mac{};
    ipam::IpAddress address() const { return ipam::IpAddress::from_bytes(family, ip.data()); }
  };
  struct ByAddress {
    bool operator()(const Entry& a, const Entry& b) const {
      return std::tie(a.family, a.ip) < std::tie(b.family, b.ip);
    }
  };
  static Entry entry_of(const ipam::IpAddress& ip, const datapath::Mac& mac);

  // One pod lease changed from `before` to `after` (nullptr: none). Records the lease write
  // (a lease going leaves the node's own lease at that address, if any) and the MAC counts.
  void changed(const ipam::IpAddress& ip, const Entry* before, const Entry* after, Edits* edits);
  // Moves the counted MACs on and wraps `lease_edits` in the MAC writes (see above).
  void finish(Edits* edits);
  const datapath::LeaseEntry* host_at(const ipam::IpAddress& ip) const;

  absl::btree_set<Entry, ByAddress> pods_;
  absl::btree_map<std::array<std::uint8_t, 6>, std::uint32_t> mac_refs_;  // pod leases per MAC
  std::vector<datapath::LeaseEntry> host_;                                // sorted by address
  // Of the change being recorded: lease writes, and how many more (or fewer) leases name
  // each MAC.
  Edits lease_edits_;
  // A B-tree: a first sync of 65,536 pods with their own MACs counts one delta each (a
  // std::map's nodes were 3 MB of the agent's peak there).
  absl::btree_map<std::array<std::uint8_t, 6>, int> mac_delta_;
};

}  // namespace ipfence::agent
