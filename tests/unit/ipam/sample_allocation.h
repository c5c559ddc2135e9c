// An Allocation with every field set as a kubelet and containerd would set it, for the record
// tests (allocation_record_test.cpp, attachment_record_test.cpp).
#pragma once

#include <string>

#include "ipam/model.h"

namespace ipfence::ipam::testing {

inline Allocation sample_allocation(const std::string& address) {
  return Allocation{
      .ip = address,
      .pool = "pool-a",
      .container_id = "3f1c0e2d9b7a4c5e8f6d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d",
      .ifname = "net1",
      .netns = "/var/run/netns/cni-8d1c5e47-0b3f-4a4e-9a55-1a2b3c4d5e6f",
      .network = "macvlan-ens192",
      .pod_namespace = "kube-system",
      .pod_name = "coredns-5d78c9869d-abcde",
      .pod_uid = "6a1f0d2c-3b4e-4f5a-8b9c-0d1e2f3a4b5c",
      .mac = "02:1f:a0:0b:ff:09",
      .master = "ens192",
      .node = "node1",
      .created = "2026-11-27T03:18:17.633Z",
  };
}

}  // namespace ipfence::ipam::testing
