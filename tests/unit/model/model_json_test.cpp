#include <gtest/gtest.h>

#include "ipam/model.h"

namespace ipfence::ipam {
namespace {

using nlohmann::json;

ObjectMeta full_meta(std::string ns = "") {
  ObjectMeta m;
  m.name = "test-ippool";
  m.namespace_ = std::move(ns);
  m.uid = "0b9c5a5e-2f6a-4b8e-9a61-7c3f1d2e4a5b";
  m.creation_timestamp = "2024-05-01T10:00:00Z";
  m.resource_version = 42;
  m.labels = {{"app", "demo"}, {"tier", "net"}};
  m.annotations = {{"note", "kept"}};
  return m;
}

SpiderIPPool full_pool() {
  SpiderIPPool p;
  p.metadata = full_meta();
  p.spec.ip_version = 4;
  p.spec.subnet = "10.6.0.0/16";
  p.spec.ips = {"10.6.168.131-10.6.168.133", "10.6.1.1"};
  p.spec.exclude_ips = {"10.6.168.132"};
  p.spec.gateway = "10.6.0.1";
  p.spec.routes = {{"10.7.0.0/16", "10.6.0.254"}, {"10.8.0.0/16", "10.6.0.253"}};
  p.spec.pod_affinity = json{{"matchLabels", {{"app", "demo"}}}};
  p.spec.namespace_affinity =
      json{{"matchExpressions", {{{"key", "team"}, {"operator", "In"}, {"values", {"a"}}}}}};
  p.spec.node_affinity = json{{"matchLabels", {{"zone", "a"}}}};
  p.spec.namespace_name = {"default"};
  p.spec.node_name = {"node1", "node2"};
  p.spec.multus_name = {"kube-system/macvlan-ens192"};
  p.spec.default_ = true;
  p.spec.disable = true;
  return p;
}

SpiderMultusConfig full_multus() {
  SpiderMultusConfig c;
  c.metadata = full_meta("kube-system");
  c.spec.cni_type = "macvlan";
  c.spec.macvlan.master = {"ens192"};
  c.spec.macvlan.vlan_id = 100;
  c.spec.macvlan.ipv4_pools = {"test-ippool"};
  c.spec.macvlan.ipv6_pools = {"test-ippool-v6"};
  c.spec.enable_coordinator = false;
  c.spec.disable_ipam = true;
  c.spec.coordinator = json{{"mode", "underlay"}, {"podMACPrefix", "0a:1b"}};
  return c;
}

template <typename T>
T round_trip(const T& value) {
  json j = value;
  // Through text as well, as the store does.
  return json::parse(j.dump()).get<T>();
}

TEST(ModelJson, PoolRoundTripsWithEveryField) {
  const SpiderIPPool pool = full_pool();
  EXPECT_EQ(round_trip(pool), pool);
}

TEST(ModelJson, PoolUsesSpiderpoolFieldNames) {
  const json j = full_pool();
  EXPECT_EQ(j["apiVersion"], "spiderpool.spidernet.io/v2beta1");
  EXPECT_EQ(j["kind"], "SpiderIPPool");
  EXPECT_EQ(j["metadata"]["name"], "test-ippool");
  EXPECT_EQ(j["metadata"]["resourceVersion"], "42");  // a string, as in Kubernetes
  EXPECT_EQ(j["metadata"]["creationTimestamp"], "2024-05-01T10:00:00Z");
  EXPECT_EQ(j["metadata"]["uid"], "0b9c5a5e-2f6a-4b8e-9a61-7c3f1d2e4a5b");
  EXPECT_EQ(j["metadata"]["labels"]["app"], "demo");
  const json& s = j["spec"];
  EXPECT_EQ(s["ipVersion"], 4);
  EXPECT_EQ(s["subnet"], "10.6.0.0/16");
  EXPECT_EQ(s["ips"][0], "10.6.168.131-10.6.168.133");
  EXPECT_EQ(s["excludeIPs"][0], "10.6.168.132");
  EXPECT_EQ(s["gateway"], "10.6.0.1");
  EXPECT_EQ(s["routes"][0], (json{{"dst", "10.7.0.0/16"}, {"gw", "10.6.0.254"}}));
  EXPECT_EQ(s["podAffinity"]["matchLabels"]["app"], "demo");
  EXPECT_TRUE(s.contains("namespaceAffinity"));
  EXPECT_TRUE(s.contains("nodeAffinity"));
  EXPECT_EQ(s["namespaceName"][0], "default");
  EXPECT_EQ(s["nodeName"][1], "node2");
  EXPECT_EQ(s["multusName"][0], "kube-system/macvlan-ens192");
  EXPECT_EQ(s["default"], true);
  EXPECT_EQ(s["disable"], true);
}

TEST(ModelJson, PoolOmitsEmptyFields) {
  SpiderIPPool pool;
  pool.metadata.name = "p";
  pool.spec.subnet = "10.6.0.0/16";
  const json j = pool;
  EXPECT_EQ(j["metadata"], (json{{"name", "p"}}));
  EXPECT_EQ(j["spec"], (json{{"subnet", "10.6.0.0/16"}, {"default", false}, {"disable", false}}));
  EXPECT_EQ(round_trip(pool), pool);
}

TEST(ModelJson, ReservedRoundTrips) {
  SpiderReservedIP r;
  r.metadata = full_meta();
  r.metadata.name = "test-reservedip";
  r.spec.ip_version = 4;
  r.spec.ips = {"10.6.168.131-10.6.168.132"};
  EXPECT_EQ(round_trip(r), r);
  const json j = r;
  EXPECT_EQ(j["kind"], "SpiderReservedIP");
  EXPECT_EQ(j["spec"], (json{{"ipVersion", 4}, {"ips", {"10.6.168.131-10.6.168.132"}}}));

  SpiderReservedIP empty;
  empty.metadata.name = "e";
  EXPECT_EQ(json(empty)["spec"], json::object());
  EXPECT_EQ(round_trip(empty), empty);
}

TEST(ModelJson, MultusRoundTripsWithEveryField) {
  const SpiderMultusConfig c = full_multus();
  EXPECT_EQ(round_trip(c), c);
  const json j = c;
  EXPECT_EQ(j["kind"], "SpiderMultusConfig");
  EXPECT_EQ(j["metadata"]["namespace"], "kube-system");
  const json& s = j["spec"];
  EXPECT_EQ(s["cniType"], "macvlan");
  EXPECT_EQ(s["macvlan"]["master"], json({"ens192"}));
  EXPECT_EQ(s["macvlan"]["vlanID"], 100);
  EXPECT_EQ(s["macvlan"]["ippools"]["ipv4"], json({"test-ippool"}));
  EXPECT_EQ(s["macvlan"]["ippools"]["ipv6"], json({"test-ippool-v6"}));
  EXPECT_EQ(s["enableCoordinator"], false);
  EXPECT_EQ(s["disableIPAM"], true);
  EXPECT_EQ(s["coordinator"]["mode"], "underlay");
}

TEST(ModelJson, MultusDefaultsWhenFieldsAreAbsent) {
  const json j = {{"metadata", {{"name", "m"}, {"namespace", "default"}}},
                  {"spec", {{"macvlan", {{"master", {"eth0"}}}}}}};
  const auto c = j.get<SpiderMultusConfig>();
  EXPECT_EQ(c.spec.cni_type, "macvlan");
  EXPECT_TRUE(c.spec.enable_coordinator);  // Spiderpool's default
  EXPECT_FALSE(c.spec.disable_ipam);
  EXPECT_FALSE(c.spec.macvlan.vlan_id);
  EXPECT_TRUE(c.spec.coordinator.is_null());
  const json out = c;
  EXPECT_FALSE(out["spec"]["macvlan"].contains("ippools"));
  EXPECT_FALSE(out["spec"].contains("coordinator"));
}

TEST(ModelJson, FromJsonIsLenient) {
  // Absent sections and fields take their defaults.
  EXPECT_EQ(json::object().get<SpiderIPPool>(), SpiderIPPool{});
  EXPECT_EQ(json::object().get<SpiderReservedIP>(), SpiderReservedIP{});
  // Nulls read as absent.
  const json j = {{"metadata", {{"name", "p"}, {"labels", nullptr}}},
                  {"spec", {{"gateway", nullptr}, {"ips", nullptr}, {"ipVersion", nullptr}}}};
  const auto p = j.get<SpiderIPPool>();
  EXPECT_EQ(p.metadata.name, "p");
  EXPECT_FALSE(p.spec.gateway);
  EXPECT_FALSE(p.spec.ip_version);
  EXPECT_TRUE(p.spec.ips.empty());
}

TEST(ModelJson, ResourceVersionReadsStringOrNumber) {
  EXPECT_EQ(json({{"resourceVersion", "17"}}).get<ObjectMeta>().resource_version, 17);
  EXPECT_EQ(json({{"resourceVersion", 18}}).get<ObjectMeta>().resource_version, 18);
  EXPECT_EQ(json({{"resourceVersion", "not-a-number"}}).get<ObjectMeta>().resource_version, 0);
  ObjectMeta m;
  m.name = "x";
  EXPECT_FALSE(json(m).contains("resourceVersion"));  // 0 = not from a store
}

TEST(ModelJson, WrongTypesFromTheStoreThrow) {
  const json j = {{"spec", {{"ips", "10.0.0.1"}}}};
  EXPECT_THROW(j.get<SpiderIPPool>(), json::type_error);
}

TEST(ModelJson, AllocationRoundTripsAndOmitsEmpty) {
  Allocation a;
  a.ip = "10.6.168.133";
  a.pool = "test-ippool";
  a.container_id = "abc123";
  a.ifname = "eth0";
  a.netns = "/var/run/netns/x";
  a.network = "macvlan-ens192";
  a.pod_namespace = "default";
  a.pod_name = "test-app-67dd9f645-dv8xz";
  a.pod_uid = "uid-1";
  a.mac = "02:00:00:00:00:01";
  a.master = "ens192";
  a.node = "node2";
  a.created = "2024-05-01T10:00:00.123Z";
  EXPECT_EQ(round_trip(a), a);
  const json j = a;
  EXPECT_EQ(j["containerID"], "abc123");
  EXPECT_EQ(j["podNamespace"], "default");
  EXPECT_EQ(j["podName"], "test-app-67dd9f645-dv8xz");
  EXPECT_EQ(j["podUID"], "uid-1");

  Allocation minimal;
  minimal.ip = "10.0.0.1";
  minimal.pool = "p";
  minimal.container_id = "c";
  minimal.ifname = "eth0";
  EXPECT_EQ(json(minimal),
            (json{{"ip", "10.0.0.1"}, {"pool", "p"}, {"containerID", "c"}, {"ifname", "eth0"}}));
  EXPECT_EQ(round_trip(minimal), minimal);
}

TEST(ModelJson, AttachmentRoundTrips) {
  Attachment a;
  a.container_id = "abc123";
  a.ifname = "net1";
  a.ips = {{"v4pool", "10.6.168.133"}, {"v6pool", "fd00::5"}};
  EXPECT_EQ(round_trip(a), a);
  const json j = a;
  EXPECT_EQ(j["ips"][1], (json{{"pool", "v6pool"}, {"ip", "fd00::5"}}));
  Attachment empty;
  EXPECT_EQ(round_trip(empty), empty);
}

TEST(KindInfo, NamesResourcesScopesAndStoreDirs) {
  const KindInfo& pool = kind_info(Kind::ippool);
  EXPECT_STREQ(pool.name, "SpiderIPPool");
  EXPECT_STREQ(pool.resource, "spiderippool");
  EXPECT_FALSE(pool.namespaced);
  EXPECT_STREQ(pool.store_dir, "ippools/");
  const KindInfo& reserved = kind_info(Kind::reservedip);
  EXPECT_STREQ(reserved.name, "SpiderReservedIP");
  EXPECT_STREQ(reserved.resource, "spiderreservedip");
  EXPECT_FALSE(reserved.namespaced);
  EXPECT_STREQ(reserved.store_dir, "reservedips/");
  const KindInfo& multus = kind_info(Kind::multusconfig);
  EXPECT_STREQ(multus.name, "SpiderMultusConfig");
  EXPECT_STREQ(multus.resource, "spidermultusconfig");
  EXPECT_TRUE(multus.namespaced);
  EXPECT_STREQ(multus.store_dir, "multusconfigs/");
}

TEST(KindInfo, FromNameAcceptsKindsResourcesAndShortNames) {
  for (const char* name : {"SpiderIPPool", "spiderippool", "spiderippools", "sp", "SP", "ippool",
                           "IPPools", "spiderippools.spiderpool.spidernet.io"}) {
    EXPECT_EQ(kind_from_name(name), Kind::ippool) << name;
  }
  for (const char* name : {"SpiderReservedIP", "spiderreservedip", "spiderreservedips", "sr",
                           "reservedip", "reservedips", "ReservedIPs"}) {
    EXPECT_EQ(kind_from_name(name), Kind::reservedip) << name;
  }
  for (const char* name : {"SpiderMultusConfig", "spidermultusconfig", "spidermultusconfigs", "smc",
                           "multusconfig", "MultusConfigs"}) {
    EXPECT_EQ(kind_from_name(name), Kind::multusconfig) << name;
  }
  for (const char* name :
       {"", "pod", "Deployment", "spiderippoolx", "s", ".spiderpool.spidernet.io"}) {
    EXPECT_FALSE(kind_from_name(name)) << name;
  }
}

TEST(Keys, Layout) {
  EXPECT_EQ(keys::pool("test-ippool"), "ippools/test-ippool");
  EXPECT_EQ(keys::reserved("test-reservedip"), "reservedips/test-reservedip");
  EXPECT_EQ(keys::multus("kube-system", "macvlan-ens192"),
            "multusconfigs/kube-system/macvlan-ens192");
  EXPECT_EQ(keys::ip("test-ippool", "10.6.168.133"), "ips/test-ippool/10.6.168.133");
  EXPECT_EQ(keys::ip("v6", "fd00::1"), "ips/v6/fd00::1");
  EXPECT_EQ(keys::ips_of_pool("test-ippool"), "ips/test-ippool/");
  EXPECT_EQ(keys::attachment("abc123", "eth0"), "attachments/abc123/eth0");
  // The per-pool prefix is a prefix of every IP key of that pool and of no other pool's.
  EXPECT_EQ(keys::ip("a", "10.0.0.1").rfind(keys::ips_of_pool("a"), 0), 0u);
  EXPECT_NE(keys::ip("ab", "10.0.0.1").rfind(keys::ips_of_pool("a"), 0), 0u);
}

}  // namespace
}  // namespace ipfence::ipam
