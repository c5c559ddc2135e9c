// The table for each resource: columns follow Spiderpool's printer columns (additional
// printer columns of its CRDs), so `ipfencectl get sp` reads like `kubectl get sp`. Columns
// that ipfence adds come only with `-o wide`.
#pragma once

#include <vector>

#include "ctl/age.h"
#include "ctl/table.h"
#include "ipam/cluster_state.h"
#include "ipam/model.h"

namespace ipfence::ctl {

// NAME VERSION SUBNET ALLOCATED-IP-COUNT TOTAL-IP-COUNT DEFAULT; wide adds
// DISABLE (Spiderpool's wide column) and RESERVED AVAILABLE (ipfence's counts: reserved and
// not allocated; what a new allocation could get).
Table pool_table(const ipam::ClusterState& state, const std::vector<const ipam::PoolState*>& pools,
                 bool wide);

// NAME VERSION (Spiderpool's columns; its CRD shows no AGE); wide adds IPS.
Table reserved_table(const std::vector<const ipam::SpiderReservedIP*>& reserved, bool wide);

// NAME AGE, with NAMESPACE first when listing all namespaces. Also used for the
// NetworkAttachmentDefinitions rendered from these configs: one per config, same name.
Table multus_table(const std::vector<const ipam::SpiderMultusConfig*>& configs, bool all_namespaces,
                   Clock::time_point now);

// IP POOL CONTAINER IFNAME POD MAC NODE AGE; POD is "namespace/name"; unknown cells "<none>".
Table allocation_table(const std::vector<const ipam::Allocation*>& allocations,
                       Clock::time_point now);

}  // namespace ipfence::ctl
