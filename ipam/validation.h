// Rules about one object on its own (no other objects needed): the parsed, checked address
// sets of a pool or reserved IP. Rules that involve other objects (overlap between pools,
// allocated IPs) live in objects.cpp, which has the cluster state.
#pragma once

#include <optional>
#include <vector>

#include "ipam/ip_address.h"
#include "ipam/ip_set.h"
#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::ipam {

struct PoolRanges {
  IpFamily family = IpFamily::v4;
  IpPrefix subnet;
  IpSet ips{IpFamily::v4};      // spec.ips
  IpSet exclude{IpFamily::v4};  // spec.excludeIPs
  std::optional<IpAddress> gateway;
  // ips - excludeIPs - gateway: what could ever be handed out (before reserved/allocated).
  IpSet usable{IpFamily::v4};
};

// Checks a pool and fills spec.ip_version when absent. Errors (ErrorCode::invalid_argument)
// say what is wrong and what to do, e.g.
//   spec.gateway 10.6.0.1 is inside spec.ips; add it to spec.excludeIPs or remove it from spec.ips
// Rules: subnet is a CIDR (required); ipVersion 4|6 and matching the subnet; every ips and
// excludeIPs entry parses (Spiderpool's "invalid IP range format in IPv4 '...'") and lies
// inside the subnet; gateway parses, lies inside the subnet and not inside ips (unless also
// excluded); routes: dst is a CIDR of the family, gw inside the subnet, no duplicate dst.
Result<PoolRanges> validate_pool(SpiderIPPool& pool);

// Checks a reserved IP object and fills spec.ip_version when absent (from the first entry;
// all entries must be of that family). Returns the reserved set.
Result<IpSet> validate_reserved(SpiderReservedIP& reserved);

// Checks a SpiderMultusConfig: cniType must be "macvlan", at least one master, interface
// names valid (1..15 chars, no '/' or whitespace), vlanID 0..4094, pool names DNS-1123.
Status validate_multus(const SpiderMultusConfig& config);

}  // namespace ipfence::ipam
