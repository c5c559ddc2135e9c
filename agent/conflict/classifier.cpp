#include "agent/conflict/classifier.h"

#include <cctype>

namespace ipfence::agent {
namespace {

bool is_probe(datapath::WatchKind kind) {
  return kind == datapath::WatchKind::arp_probe || kind == datapath::WatchKind::ndp_dad;
}

// MACs as the plugin recorded them may differ in case or separator from Mac::to_string().
bool same_mac(const std::string& recorded, const datapath::Mac& seen) {
  auto parsed = datapath::Mac::parse(recorded);
  return parsed && *parsed == seen;
}

}  // namespace

Classification classify(const ipam::ClusterState& state, const datapath::WatchEvent& event) {
  Classification c;
  const ipam::PoolState* pool = state.pool_containing(event.ip);
  if (pool) c.pool = pool->pool.metadata.name;

  if (const ipam::StoredAllocation* held = state.allocation(event.ip)) {
    const ipam::Allocation a = held->allocation(event.ip);
    c.pool = a.pool;
    c.holder = a.pod_namespace.empty() && a.pod_name.empty() ? a.container_id
                                                             : a.pod_namespace + "/" + a.pod_name;
    c.holder_mac = a.mac;
    c.holder_node = a.node;
    if (a.mac.empty() || same_mac(a.mac, event.mac)) return c;  // the holder, or unknown
    c.kind = is_probe(event.kind) ? ipam::ConflictKind::probe : ipam::ConflictKind::pod;
    return c;
  }
  // Nobody holds it. A probe only asks; it is not use of the address.
  if (is_probe(event.kind)) return c;
  if (state.reserved(event.ip.family()).contains(event.ip.value())) {
    c.kind = ipam::ConflictKind::reserved;
    return c;
  }
  if (pool && pool->ranges.usable.contains(event.ip.value())) c.kind = ipam::ConflictKind::squatter;
  return c;
}

}  // namespace ipfence::agent
