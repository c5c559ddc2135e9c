#include "ctl/printers.h"

#include <gtest/gtest.h>

#include "ipam/clock.h"

namespace ipfence::ctl {
namespace {

Clock::time_point at(const char* text) {
  return *parse_rfc3339(text);
}

TEST(ReservedTable, SpiderpoolColumns) {
  ipam::SpiderReservedIP reserved;
  reserved.metadata.name = "test-reservedip";
  reserved.spec.ip_version = 4;
  reserved.spec.ips = {"10.6.168.131-10.6.168.132", "10.6.168.140"};
  EXPECT_EQ(reserved_table({&reserved}, false).render(),
            "NAME              VERSION\n"
            "test-reservedip   4\n");
  EXPECT_EQ(reserved_table({&reserved}, true).render(),
            "NAME              VERSION   IPS\n"
            "test-reservedip   4         10.6.168.131-10.6.168.132,10.6.168.140\n");
}

TEST(MultusTable, NameAgeAndNamespaceForAll) {
  ipam::SpiderMultusConfig config;
  config.metadata.name = "macvlan-ens192";
  config.metadata.namespace_ = "kube-system";
  config.metadata.creation_timestamp = "2026-11-26T09:18:00.000Z";
  const Clock::time_point now = at("2026-11-26T09:44:17Z");
  EXPECT_EQ(multus_table({&config}, false, now).render(),
            "NAME             AGE\n"
            "macvlan-ens192   26m\n");
  EXPECT_EQ(multus_table({&config}, true, now).render(),
            "NAMESPACE     NAME             AGE\n"
            "kube-system   macvlan-ens192   26m\n");
}

TEST(AllocationTable, PodMacAndAge) {
  ipam::Allocation held;
  held.ip = "10.6.168.133";
  held.pool = "test-ippool";
  held.container_id = "c1";
  held.ifname = "eth0";
  held.pod_namespace = "default";
  held.pod_name = "test-app-67dd9f645-dv8xz";
  held.mac = "aa:bb:cc:dd:ee:ff";
  held.node = "node2";
  held.created = "2026-11-26T09:44:00.000Z";
  ipam::Allocation bare;
  bare.ip = "10.6.168.131";
  bare.pool = "test-ippool";
  bare.container_id = "c2";
  bare.ifname = "net1";
  bare.created = "2026-11-26T09:42:00.000Z";
  EXPECT_EQ(allocation_table({&bare, &held}, at("2026-11-26T09:44:17Z")).render(),
            "IP             POOL          CONTAINER   IFNAME   POD                                "
            "MAC                 NODE     AGE\n"
            "10.6.168.131   test-ippool   c2          net1     <none>                             "
            "<none>              <none>   2m17s\n"
            "10.6.168.133   test-ippool   c1          eth0     default/test-app-67dd9f645-dv8xz   "
            "aa:bb:cc:dd:ee:ff   node2    17s\n");
}

}  // namespace
}  // namespace ipfence::ctl
