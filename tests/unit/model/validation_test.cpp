#include "ipam/validation.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "ipam/manifest.h"

namespace ipfence::ipam {
namespace {

template <typename T>
T from_testdata(const std::string& name) {
  std::ifstream in(std::string(IPFENCE_SOURCE_DIR) + "/tests/unit/model/testdata/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  auto objects = parse_manifests(ss.str());
  EXPECT_TRUE(objects.ok()) << name;
  if (!objects.ok() || objects->size() != 1) return T{};
  return std::get<T>((*objects)[0]);
}

SpiderIPPool make_pool(std::string subnet, std::vector<std::string> ips = {}) {
  SpiderIPPool p;
  p.metadata.name = "test-ippool";
  p.spec.subnet = std::move(subnet);
  p.spec.ips = std::move(ips);
  return p;
}

std::string pool_error(SpiderIPPool pool) {
  auto result = validate_pool(pool);
  EXPECT_FALSE(result.ok());
  if (result.ok()) return "";
  EXPECT_EQ(result.error().code, ErrorCode::invalid_argument);
  return result.error().message;
}

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

// --- pools -------------------------------------------------------------------------------------

TEST(ValidatePool, SeedPool) {
  auto pool = from_testdata<SpiderIPPool>("seed_ippool.yaml");
  auto ranges = validate_pool(pool);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(pool.spec.ip_version, 4);  // derived from the subnet
  EXPECT_EQ(ranges->family, IpFamily::v4);
  EXPECT_EQ(ranges->subnet.to_string(), "10.6.0.0/16");
  EXPECT_EQ(ranges->ips.size(), 3u);
  EXPECT_TRUE(ranges->exclude.empty());
  EXPECT_FALSE(ranges->gateway);
  EXPECT_EQ(ranges->usable, ranges->ips);
  EXPECT_TRUE(ranges->usable.contains(ip("10.6.168.133")));
}

TEST(ValidatePool, UsableIsIpsMinusExcludedMinusGateway) {
  auto pool = make_pool("10.6.0.0/16", {"10.6.0.1-10.6.0.10", "10.6.1.0/30"});
  pool.spec.exclude_ips = {"10.6.0.5", "10.6.1.3"};
  pool.spec.gateway = "10.6.0.1";
  pool.spec.exclude_ips.push_back("10.6.0.1");
  auto ranges = validate_pool(pool);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(ranges->ips.size(), 14u);
  EXPECT_EQ(ranges->exclude.size(), 3u);
  EXPECT_EQ(ranges->gateway, ip("10.6.0.1"));
  EXPECT_EQ(ranges->usable.size(), 11u);
  EXPECT_FALSE(ranges->usable.contains(ip("10.6.0.1")));
  EXPECT_FALSE(ranges->usable.contains(ip("10.6.0.5")));
  EXPECT_TRUE(ranges->usable.contains(ip("10.6.1.2")));
}

TEST(ValidatePool, GatewayOutsideIpsIsNotCounted) {
  auto pool = make_pool("10.6.0.0/16", {"10.6.168.131-10.6.168.133"});
  pool.spec.gateway = "10.6.0.1";
  auto ranges = validate_pool(pool);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(ranges->usable.size(), 3u);
}

TEST(ValidatePool, EmptyIpsIsAllowed) {
  auto pool = make_pool("10.6.0.0/16");
  auto ranges = validate_pool(pool);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_TRUE(ranges->usable.empty());
}

TEST(ValidatePool, Ipv6) {
  auto pool = make_pool("fd00:6::/64", {"fd00:6::10-fd00:6::1f"});
  pool.spec.gateway = "fd00:6::1";
  pool.spec.routes = {{"fd00:7::/64", "fd00:6::fe"}};
  auto ranges = validate_pool(pool);
  ASSERT_TRUE(ranges.ok()) << ranges.error().message;
  EXPECT_EQ(pool.spec.ip_version, 6);
  EXPECT_EQ(ranges->family, IpFamily::v6);
  EXPECT_EQ(ranges->usable.size(), 16u);
}

TEST(ValidatePool, Subnet) {
  EXPECT_EQ(pool_error(make_pool("")),
            "spec.subnet: required field is missing; set it to the pool's network in CIDR form, "
            "e.g. 10.6.0.0/16");
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/33")),
            "spec.subnet: invalid CIDR '10.6.0.0/33'; write the pool's network as "
            "address/length, e.g. 10.6.0.0/16");
  EXPECT_EQ(pool_error(make_pool("10.6.0.0")),
            "spec.subnet: invalid CIDR '10.6.0.0'; write the pool's network as address/length, "
            "e.g. 10.6.0.0/16");
  EXPECT_EQ(pool_error(make_pool("10.6.1.0/16")),
            "spec.subnet: 10.6.1.0/16 has host bits set; use 10.6.0.0/16");
}

TEST(ValidatePool, IpVersion) {
  auto pool = make_pool("10.6.0.0/16");
  pool.spec.ip_version = 6;
  EXPECT_EQ(pool_error(pool),
            "spec.ipVersion: 6 does not match spec.subnet 10.6.0.0/16, which is IPv4; set "
            "spec.ipVersion to 4 or remove it");
  pool.spec.ip_version = 5;
  EXPECT_EQ(pool_error(pool), "spec.ipVersion: must be 4 or 6, got 5");
  pool.spec.ip_version = 4;
  EXPECT_TRUE(validate_pool(pool).ok());
}

TEST(ValidatePool, BadEntriesUseSpiderpoolText) {
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"10.6.168.133-10.6.168.131"})),
            "spec.ips[0]: invalid IP range format in IPv4 '10.6.168.133-10.6.168.131'");
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"10.6.0.1", "10.6.0.x"})),
            "spec.ips[1]: invalid IP range format in IPv4 '10.6.0.x'");
  // The pool's family names the message even when the text looks like the other family.
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"fd00::9-fd00::1"})),
            "spec.ips[0]: invalid IP range format in IPv4 'fd00::9-fd00::1'");
  EXPECT_EQ(pool_error(make_pool("fd00::/64", {"fd00::9-fd00::1"})),
            "spec.ips[0]: invalid IP range format in IPv6 'fd00::9-fd00::1'");
  auto pool = make_pool("10.6.0.0/16");
  pool.spec.exclude_ips = {"10.6.0.1", "10.6.0.9-10.6.0.1"};
  EXPECT_EQ(pool_error(pool),
            "spec.excludeIPs[1]: invalid IP range format in IPv4 '10.6.0.9-10.6.0.1'");
}

TEST(ValidatePool, EntriesOfTheOtherFamily) {
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"10.6.0.1", "fd00::1"})),
            "spec.ips[1]: fd00::1 is IPv6, but the pool is IPv4 (spec.subnet 10.6.0.0/16); put "
            "it in an IPv6 pool");
  auto pool = make_pool("fd00::/64");
  pool.spec.exclude_ips = {"10.6.0.1"};
  EXPECT_EQ(pool_error(pool),
            "spec.excludeIPs[0]: 10.6.0.1 is IPv4, but the pool is IPv6 (spec.subnet fd00::/64); "
            "put it in an IPv4 pool");
}

TEST(ValidatePool, EntriesOutsideTheSubnet) {
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"10.7.0.1"})),
            "spec.ips[0]: 10.7.0.1 is not inside spec.subnet 10.6.0.0/16; fix the entry or the "
            "subnet");
  // Partly outside is outside.
  EXPECT_EQ(pool_error(make_pool("10.6.0.0/16", {"10.6.255.250-10.7.0.5"})),
            "spec.ips[0]: 10.6.255.250-10.7.0.5 is not inside spec.subnet 10.6.0.0/16; fix the "
            "entry or the subnet");
  auto pool = make_pool("10.6.0.0/16");
  pool.spec.exclude_ips = {"10.5.0.0/24"};
  EXPECT_EQ(pool_error(pool),
            "spec.excludeIPs[0]: 10.5.0.0/24 is not inside spec.subnet 10.6.0.0/16; fix the entry "
            "or the subnet");
}

TEST(ValidatePool, Gateway) {
  auto pool = make_pool("10.6.0.0/16", {"10.6.0.1-10.6.0.10"});
  pool.spec.gateway = "10.6.0.1";
  EXPECT_EQ(pool_error(pool),
            "spec.gateway 10.6.0.1 is inside spec.ips; add it to spec.excludeIPs or remove it from "
            "spec.ips");
  pool.spec.exclude_ips = {"10.6.0.1"};
  EXPECT_TRUE(validate_pool(pool).ok());

  pool.spec.gateway = "10.7.0.1";
  EXPECT_EQ(pool_error(pool),
            "spec.gateway 10.7.0.1 is outside spec.subnet 10.6.0.0/16; use a gateway inside the "
            "subnet");
  pool.spec.gateway = "10.6.0.256";
  EXPECT_EQ(pool_error(pool), "spec.gateway: invalid IP address '10.6.0.256'");
  pool.spec.gateway = "fd00::1";
  EXPECT_EQ(pool_error(pool),
            "spec.gateway fd00::1 is IPv6, but the pool is IPv4 (spec.subnet 10.6.0.0/16); use an "
            "IPv4 address");
}

TEST(ValidatePool, Routes) {
  auto pool = make_pool("10.6.0.0/16");
  pool.spec.routes = {{"10.7.0.0/16", "10.6.0.254"}, {"192.168.0.0/24", "10.6.0.253"}};
  EXPECT_TRUE(validate_pool(pool).ok());

  pool.spec.routes = {{"10.7.0.0", "10.6.0.254"}};
  EXPECT_EQ(pool_error(pool), "spec.routes[0].dst: invalid CIDR '10.7.0.0'");
  pool.spec.routes = {{"10.7.0.0/16", "10.6.0.254"}, {"fd00::/64", "10.6.0.254"}};
  EXPECT_EQ(pool_error(pool),
            "spec.routes[1].dst: fd00::/64 is IPv6, but the pool is IPv4 (spec.subnet "
            "10.6.0.0/16); route only IPv4 destinations from this pool");
  pool.spec.routes = {{"0.0.0.0/0", "10.6.0.254"}};
  EXPECT_EQ(pool_error(pool),
            "spec.routes[0].dst: 0.0.0.0/0 is the default route; set spec.gateway instead of a "
            "route");
  // Duplicates compare by network, so 10.7.0.1/16 repeats 10.7.0.0/16.
  pool.spec.routes = {
      {"10.7.0.0/16", "10.6.0.254"}, {"10.8.0.0/16", "10.6.0.254"}, {"10.7.0.1/16", "10.6.0.253"}};
  EXPECT_EQ(pool_error(pool),
            "spec.routes[2].dst: duplicate route to 10.7.0.0/16 (also in spec.routes[0]); remove "
            "one of them");
  pool.spec.routes = {{"10.7.0.0/16", "10.9.0.1"}};
  EXPECT_EQ(pool_error(pool),
            "spec.routes[0].gw 10.9.0.1 is outside spec.subnet 10.6.0.0/16; a route's gateway "
            "must be reachable on the pool's subnet");
  pool.spec.routes = {{"10.7.0.0/16", "gw"}};
  EXPECT_EQ(pool_error(pool), "spec.routes[0].gw: invalid IP address 'gw'");
  pool.spec.routes = {{"10.7.0.0/16", "fd00::1"}};
  EXPECT_EQ(pool_error(pool),
            "spec.routes[0].gw fd00::1 is IPv6, but the pool is IPv4 (spec.subnet 10.6.0.0/16); "
            "use an IPv4 address");
}

TEST(ValidatePool, EmptyPodAffinity) {
  auto pool = make_pool("10.6.0.0/16");
  pool.spec.pod_affinity = nlohmann::json::object();
  EXPECT_EQ(pool_error(pool),
            "spec.podAffinity: an empty selector is not allowed; give matchLabels or "
            "matchExpressions, or remove spec.podAffinity");
  pool.spec.pod_affinity = {{"matchLabels", nlohmann::json::object()}};
  EXPECT_FALSE(validate_pool(pool).ok());
  pool.spec.pod_affinity = {{"matchLabels", {{"app", "demo"}}}};
  EXPECT_TRUE(validate_pool(pool).ok());
  // Spiderpool checks only podAffinity for emptiness.
  pool.spec.node_affinity = nlohmann::json::object();
  EXPECT_TRUE(validate_pool(pool).ok());
}

// --- reserved IPs ----------------------------------------------------------------------------

TEST(ValidateReserved, SeedObjects) {
  auto reserved = from_testdata<SpiderReservedIP>("seed_reservedip.yaml");
  auto set = validate_reserved(reserved);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(reserved.spec.ip_version, 4);  // from the first entry
  EXPECT_EQ(set->size(), 2u);
  EXPECT_TRUE(set->contains(ip("10.6.168.131")));
  EXPECT_FALSE(set->contains(ip("10.6.168.133")));

  auto patched = from_testdata<SpiderReservedIP>("seed_reservedip_patched.yaml");
  set = validate_reserved(patched);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->size(), 3u);
  EXPECT_TRUE(set->contains(ip("10.6.168.133")));
}

SpiderReservedIP make_reserved(std::vector<std::string> ips, std::optional<int> version = {}) {
  SpiderReservedIP r;
  r.metadata.name = "test-reservedip";
  r.spec.ips = std::move(ips);
  r.spec.ip_version = version;
  return r;
}

std::string reserved_error(SpiderReservedIP reserved) {
  auto result = validate_reserved(reserved);
  EXPECT_FALSE(result.ok());
  return result.ok() ? "" : result.error().message;
}

TEST(ValidateReserved, FamilyFromVersionOrFirstEntry) {
  auto r = make_reserved({"fd00::1-fd00::3", "fd00::10"});
  auto set = validate_reserved(r);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->family(), IpFamily::v6);
  EXPECT_EQ(set->size(), 4u);
  EXPECT_EQ(r.spec.ip_version, 6);

  auto empty = make_reserved({});
  ASSERT_TRUE(validate_reserved(empty).ok());
  EXPECT_FALSE(empty.spec.ip_version);  // nothing to derive it from

  auto v6_empty = make_reserved({}, 6);
  set = validate_reserved(v6_empty);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->family(), IpFamily::v6);
}

TEST(ValidateReserved, Errors) {
  EXPECT_EQ(reserved_error(make_reserved({"10.6.168.133-10.6.168.131"})),
            "spec.ips[0]: invalid IP range format in IPv4 '10.6.168.133-10.6.168.131'");
  EXPECT_EQ(reserved_error(make_reserved({"fd00::9-fd00::1"})),
            "spec.ips[0]: invalid IP range format in IPv6 'fd00::9-fd00::1'");
  EXPECT_EQ(reserved_error(make_reserved({"10.0.0.1", "x"})),
            "spec.ips[1]: invalid IP range format in IPv4 'x'");
  EXPECT_EQ(reserved_error(make_reserved({"10.0.0.1", "fd00::1"})),
            "spec.ips[1]: fd00::1 is IPv6, but spec.ips[0] is IPv4; one SpiderReservedIP holds "
            "one IP family: put IPv6 addresses in another SpiderReservedIP");
  EXPECT_EQ(reserved_error(make_reserved({"fd00::1"}, 4)),
            "spec.ips[0]: fd00::1 is IPv6, but spec.ipVersion is 4; one SpiderReservedIP holds one "
            "IP family: put IPv6 addresses in another SpiderReservedIP");
  EXPECT_EQ(reserved_error(make_reserved({"10.0.0.1"}, 7)),
            "spec.ipVersion: must be 4 or 6, got 7");
}

// --- multus configs ----------------------------------------------------------------------------

SpiderMultusConfig make_multus() {
  SpiderMultusConfig c;
  c.metadata.name = "macvlan-ens192";
  c.metadata.namespace_ = "kube-system";
  c.spec.macvlan.master = {"ens192"};
  return c;
}

std::string multus_error(const SpiderMultusConfig& c) {
  auto status = validate_multus(c);
  EXPECT_FALSE(status.ok());
  if (status.ok()) return "";
  EXPECT_EQ(status.error().code, ErrorCode::invalid_argument);
  return status.error().message;
}

TEST(ValidateMultus, SeedConfig) {
  const auto c = from_testdata<SpiderMultusConfig>("seed_multusconfig.yaml");
  const auto status = validate_multus(c);
  EXPECT_TRUE(status.ok()) << status.error().message;
}

TEST(ValidateMultus, CniType) {
  auto c = make_multus();
  c.spec.cni_type = "ipvlan";
  EXPECT_EQ(multus_error(c),
            "spec.cniType: ipfence supports only macvlan, got \"ipvlan\"; set spec.cniType: "
            "macvlan");
  c.spec.cni_type = "";
  EXPECT_EQ(multus_error(c),
            "spec.cniType: ipfence supports only macvlan, got \"\"; set spec.cniType: macvlan");
}

TEST(ValidateMultus, Master) {
  auto c = make_multus();
  c.spec.macvlan.master.clear();
  EXPECT_EQ(multus_error(c),
            "spec.macvlan.master: at least one interface is required; name the node's uplink, "
            "e.g. master: [ens192]");
  for (const char* good : {"eth0", "bond0.100", "enp0s31f6", "abcdefghijklmno"}) {
    c.spec.macvlan.master = {good};
    EXPECT_TRUE(validate_multus(c).ok()) << good;
  }
  for (const char* bad : {"", "abcdefghijklmnop", "eth/0", "eth 0", "eth0:1", ".", "..", "a\tb"}) {
    c.spec.macvlan.master = {"eth0", bad};
    const std::string quoted = nlohmann::json(bad).dump();
    EXPECT_EQ(multus_error(c), "spec.macvlan.master[1]: " + quoted +
                                   " is not a valid interface name: use 1 to 15 characters "
                                   "without '/', ':' or whitespace");
  }
}

TEST(ValidateMultus, VlanId) {
  auto c = make_multus();
  for (int good : {0, 1, 4094}) {
    c.spec.macvlan.vlan_id = good;
    EXPECT_TRUE(validate_multus(c).ok()) << good;
  }
  c.spec.macvlan.vlan_id = 4095;
  EXPECT_EQ(multus_error(c),
            "spec.macvlan.vlanID: must be between 0 and 4094 (0 means untagged), got 4095");
  c.spec.macvlan.vlan_id = -1;
  EXPECT_EQ(multus_error(c),
            "spec.macvlan.vlanID: must be between 0 and 4094 (0 means untagged), got -1");
}

TEST(ValidateMultus, PoolNames) {
  auto c = make_multus();
  c.spec.macvlan.ipv4_pools = {"test-ippool"};
  c.spec.macvlan.ipv6_pools = {"v6-pool", "Bad_Pool"};
  EXPECT_EQ(multus_error(c),
            "spec.macvlan.ippools.ipv6[1]: \"Bad_Pool\" is not a valid pool name: a lowercase RFC "
            "1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
            "must start and end with an alphanumeric character");
  c.spec.macvlan.ipv6_pools = {"v6-pool"};
  EXPECT_TRUE(validate_multus(c).ok());
}

}  // namespace
}  // namespace ipfence::ipam
