#include "ipam/manifest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace ipfence::ipam {
namespace {

using nlohmann::json;

std::string testdata(const std::string& name) {
  std::ifstream in(std::string(IPFENCE_SOURCE_DIR) + "/tests/unit/model/testdata/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Object> parse_ok(std::string_view text) {
  auto result = parse_manifests(text);
  EXPECT_TRUE(result.ok()) << result.error().message;
  return result.ok() ? std::move(result).value() : std::vector<Object>{};
}

template <typename T>
T parse_one(std::string_view text) {
  auto objects = parse_ok(text);
  EXPECT_EQ(objects.size(), 1u);
  if (objects.size() != 1 || !std::holds_alternative<T>(objects[0])) return T{};
  return std::get<T>(objects[0]);
}

std::string error_of(std::string_view text) {
  auto result = parse_manifests(text);
  EXPECT_FALSE(result.ok()) << text;
  if (result.ok()) return "";
  EXPECT_EQ(result.error().code, ErrorCode::invalid_argument);
  return result.error().message;
}

const std::string kPoolHead =
    "apiVersion: spiderpool.spidernet.io/v2beta1\n"
    "kind: SpiderIPPool\n"
    "metadata:\n"
    "  name: test-ippool\n";

// A pool manifest with the given (indented) spec lines.
std::string pool(const std::string& spec) {
  return kPoolHead + "spec:\n" + spec;
}
const std::string kPoolPrefix = "document 0 (SpiderIPPool test-ippool): ";

std::string multus(const std::string& spec) {
  return "apiVersion: spiderpool.spidernet.io/v2beta1\n"
         "kind: SpiderMultusConfig\n"
         "metadata:\n"
         "  name: macvlan-ens192\n"
         "spec:\n" +
         spec;
}
const std::string kMultusPrefix = "document 0 (SpiderMultusConfig macvlan-ens192): ";

// --- the seed's manifests --------------------------------------------------------------------

TEST(Manifest, SeedMultusConfig) {
  const auto c = parse_one<SpiderMultusConfig>(testdata("seed_multusconfig.yaml"));
  EXPECT_EQ(c.metadata.name, "macvlan-ens192");
  EXPECT_EQ(c.metadata.namespace_, "kube-system");
  EXPECT_EQ(c.spec.cni_type, "macvlan");
  EXPECT_TRUE(c.spec.enable_coordinator);
  EXPECT_FALSE(c.spec.disable_ipam);
  EXPECT_EQ(c.spec.macvlan.master, std::vector<std::string>{"ens192"});
  EXPECT_FALSE(c.spec.macvlan.vlan_id);
  EXPECT_TRUE(c.spec.macvlan.ipv4_pools.empty());
  EXPECT_TRUE(c.spec.coordinator.is_null());
}

TEST(Manifest, SeedReservedIP) {
  const auto r = parse_one<SpiderReservedIP>(testdata("seed_reservedip.yaml"));
  EXPECT_EQ(r.metadata.name, "test-reservedip");
  EXPECT_EQ(r.metadata.namespace_, "");
  EXPECT_FALSE(r.spec.ip_version);
  EXPECT_EQ(r.spec.ips, std::vector<std::string>{"10.6.168.131-10.6.168.132"});

  const auto patched = parse_one<SpiderReservedIP>(testdata("seed_reservedip_patched.yaml"));
  EXPECT_EQ(patched.metadata.name, "test-reservedip");
  EXPECT_EQ(patched.spec.ips, std::vector<std::string>{"10.6.168.131-10.6.168.133"});
}

TEST(Manifest, SeedIPPool) {
  const auto p = parse_one<SpiderIPPool>(testdata("seed_ippool.yaml"));
  EXPECT_EQ(p.metadata.name, "test-ippool");
  EXPECT_EQ(p.metadata.namespace_, "");
  EXPECT_FALSE(p.spec.ip_version);
  EXPECT_EQ(p.spec.subnet, "10.6.0.0/16");
  EXPECT_EQ(p.spec.ips, std::vector<std::string>{"10.6.168.131-10.6.168.133"});
  EXPECT_TRUE(p.spec.exclude_ips.empty());
  EXPECT_FALSE(p.spec.gateway);
  EXPECT_TRUE(p.spec.pod_affinity.is_null());
  EXPECT_FALSE(p.spec.default_);
  EXPECT_FALSE(p.spec.disable);
}

TEST(Manifest, SeedManifestsInOneStream) {
  const std::string text = testdata("seed_multusconfig.yaml") + "---\n" +
                           testdata("seed_reservedip.yaml") + "---\n" +
                           testdata("seed_ippool.yaml");
  const auto objects = parse_ok(text);
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(object_kind(objects[0]), Kind::multusconfig);
  EXPECT_EQ(object_kind(objects[1]), Kind::reservedip);
  EXPECT_EQ(object_kind(objects[2]), Kind::ippool);
  EXPECT_EQ(object_meta(objects[2]).name, "test-ippool");
}

TEST(Manifest, SeedDeploymentIsNotOurs) {
  EXPECT_EQ(error_of(testdata("seed_deployment.yaml")),
            "document 0: kind \"Deployment\" (apiVersion apps/v1) is not an ipfence object; "
            "expected SpiderIPPool, SpiderReservedIP or SpiderMultusConfig (apiVersion "
            "spiderpool.spidernet.io/v2beta1)");
  // Nothing is returned when one document is bad, wherever it is.
  EXPECT_EQ(error_of(testdata("seed_ippool.yaml") + "---\n" + testdata("seed_deployment.yaml"))
                .rfind("document 1: kind \"Deployment\"", 0),
            0u);
}

TEST(Manifest, SeedObjectsRoundTripThroughJson) {
  for (const char* file : {"seed_multusconfig.yaml", "seed_reservedip.yaml",
                           "seed_reservedip_patched.yaml", "seed_ippool.yaml"}) {
    const auto objects = parse_ok(testdata(file));
    ASSERT_EQ(objects.size(), 1u);
    auto again = parse_object(json::parse(object_to_json(objects[0]).dump()), 0);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, objects[0]) << file;
  }
}

// --- formats -----------------------------------------------------------------------------------

TEST(Manifest, AcceptsJson) {
  const auto p = parse_one<SpiderIPPool>(R"({
    "apiVersion": "spiderpool.spidernet.io/v2beta1", "kind": "SpiderIPPool",
    "metadata": {"name": "test-ippool"},
    "spec": {"ipVersion": 4, "subnet": "10.6.0.0/16", "ips": ["10.6.168.131-10.6.168.133"],
             "default": true}})");
  EXPECT_EQ(p.spec.ip_version, 4);
  EXPECT_TRUE(p.spec.default_);
  EXPECT_EQ(p.spec.ips.size(), 1u);
}

TEST(Manifest, AcceptsYamlFlowStyle) {
  const auto p = parse_one<SpiderIPPool>(
      "{apiVersion: spiderpool.spidernet.io/v2beta1, kind: SpiderIPPool, metadata: {name: a}, "
      "spec: {subnet: 10.0.0.0/8, ips: [10.0.0.1]}}");
  EXPECT_EQ(p.spec.subnet, "10.0.0.0/8");
}

TEST(Manifest, ExpandsLists) {
  const std::string text = R"(apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: spiderpool.spidernet.io/v2beta1
  kind: SpiderReservedIP
  metadata: {name: a}
  spec: {ips: [10.0.0.1]}
- apiVersion: spiderpool.spidernet.io/v2beta1
  kind: SpiderReservedIP
  metadata: {name: b}
  spec: {ips: [10.0.0.2]}
)";
  const auto objects = parse_ok(text);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(object_meta(objects[1]).name, "b");

  std::string bad = text;
  bad.replace(bad.find("[10.0.0.2]"), 10, "[5]");
  EXPECT_EQ(error_of(bad),
            "document 0, items[1] (SpiderReservedIP b): spec.ips[0]: expected a string, got 5");
  EXPECT_EQ(error_of("kind: List\nitems: {}\n"),
            "document 0: items: expected a list of objects, got {}");
  EXPECT_TRUE(parse_ok("kind: SpiderIPPoolList\nitems: []\n").empty());
}

TEST(Manifest, SkipsEmptyDocumentsButCountsThem) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("  \n# only a comment\n").empty());
  EXPECT_TRUE(parse_ok("---\n---\n").empty());
  const auto objects = parse_ok("---\n---\n" + testdata("seed_ippool.yaml") + "---\n");
  EXPECT_EQ(objects.size(), 1u);
  EXPECT_EQ(error_of("---\n# empty\n---\nkind: Pod\n"),
            "document 1: kind \"Pod\" is not an ipfence object; expected SpiderIPPool, "
            "SpiderReservedIP or SpiderMultusConfig (apiVersion spiderpool.spidernet.io/v2beta1)");
}

TEST(Manifest, YamlScalarsAreTypedLikeKubernetes) {
  // Plain true/false and numbers are typed; quoted text is always a string.
  auto p =
      parse_one<SpiderIPPool>(pool("  ipVersion: 4\n  subnet: 10.6.0.0/16\n  default: true\n"
                                   "  disable: False\n  gateway: \"10.6.0.1\"\n"));
  EXPECT_EQ(p.spec.ip_version, 4);
  EXPECT_TRUE(p.spec.default_);
  EXPECT_FALSE(p.spec.disable);
  EXPECT_EQ(p.spec.gateway, "10.6.0.1");
  EXPECT_EQ(error_of(pool("  default: \"true\"\n")),
            kPoolPrefix + "spec.default: expected true or false, got \"true\"");
  EXPECT_EQ(error_of(pool("  default: yes\n")),
            kPoolPrefix + "spec.default: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of(pool("  ipVersion: '4'\n")),
            kPoolPrefix + "spec.ipVersion: expected an integer, got \"4\"");
  EXPECT_EQ(error_of(pool("  ipVersion: 4.0\n")),
            kPoolPrefix + "spec.ipVersion: expected an integer, got 4.0");
  EXPECT_EQ(error_of(pool("  ipVersion: 99999999999\n")),
            kPoolPrefix + "spec.ipVersion: expected an integer, got 99999999999");
  // A number where a string is expected is an error, not silently converted.
  EXPECT_EQ(error_of(pool("  subnet: 10\n")),
            kPoolPrefix + "spec.subnet: expected a string, got 10");
  // null, ~ and empty read as absent.
  p = parse_one<SpiderIPPool>(
      pool("  subnet: 10.6.0.0/16\n  ips:\n  gateway: ~\n  default: null\n"));
  EXPECT_TRUE(p.spec.ips.empty());
  EXPECT_FALSE(p.spec.gateway);
  // Explicit tags and block scalars.
  p =
      parse_one<SpiderIPPool>(pool("  subnet: !!str 10.6.0.0/16\n  ipVersion: !!int 4\n"
                                   "  nodeName:\n  - !!str 123\n  - |-\n    node2\n"));
  EXPECT_EQ(p.spec.subnet, "10.6.0.0/16");
  EXPECT_EQ(p.spec.node_name, (std::vector<std::string>{"123", "node2"}));
}

TEST(Manifest, AnchorsAndAliases) {
  const auto p = parse_one<SpiderIPPool>(
      pool("  subnet: 10.6.0.0/16\n  ips: &r [10.6.0.10-10.6.0.20]\n  excludeIPs: *r\n"));
  EXPECT_EQ(p.spec.exclude_ips, p.spec.ips);
}

TEST(Manifest, AliasBombIsRefused) {
  std::string text = "a: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    text += "]\n";
  }
  const std::string message = error_of(text);
  EXPECT_NE(message.find("document too large"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("document 0: invalid YAML at line ", 0), 0u) << message;
}

TEST(Manifest, DeepNestingIsRefused) {
  const std::string deep_yaml = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(error_of("a: " + deep_yaml),
            "document 0: invalid YAML at line 1, column 67: nested deeper than 64 levels");
  const std::string deep_json = "{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(error_of(deep_json), "document 0: nested deeper than 64 levels");
}

TEST(Manifest, YamlSyntaxErrorsGiveLineAndColumn) {
  EXPECT_EQ(error_of("a: 1\n b: 2\n"),
            "document 0: invalid YAML at line 2, column 3: illegal map value");
  EXPECT_EQ(error_of(testdata("seed_ippool.yaml") + "---\nkey: [1, 2\n"),
            "document 1: invalid YAML at line 11, column 1: end of sequence flow not found");
  EXPECT_EQ(error_of("a: 1\na: 2\n"),
            "document 0: invalid YAML at line 2, column 1: duplicate key \"a\"");
  EXPECT_EQ(error_of("? [a]\n: b\n"),
            "document 0: invalid YAML at line 1, column 3: a mapping key must be a scalar");
  EXPECT_EQ(error_of("a: *nope\n"),
            "document 0: invalid YAML at line 1, column 4: the referenced anchor is not defined");
  // yaml-cpp would report endless empty documents here; we report the stray text.
  EXPECT_EQ(error_of("{a: 1}, b\n"),
            "document 1: invalid YAML at line 1, column 7: unexpected text; expected a new "
            "document (\"---\") or the end of the input");
  EXPECT_EQ(error_of("a: \"\xff\"\n"),
            "document 0: invalid YAML at line 1, column 4: invalid UTF-8 in a scalar");
}

// --- document level --------------------------------------------------------------------------

TEST(Manifest, DocumentMustBeAnObject) {
  EXPECT_EQ(error_of("just text\n"),
            "document 0: expected an object with apiVersion, kind, metadata and spec, got "
            "\"just text\"");
  EXPECT_EQ(error_of("[1, 2]"),
            "document 0: expected an object with apiVersion, kind, metadata and spec, got [1,2]");
}

TEST(Manifest, KindAndApiVersion) {
  EXPECT_EQ(error_of("metadata: {name: a}\n"),
            "document 0: kind: required field is missing; set it to SpiderIPPool, "
            "SpiderReservedIP or SpiderMultusConfig");
  EXPECT_EQ(error_of("kind: 5\n"), "document 0: kind: expected a string, got 5");
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIpPool\n"),
            "document 0: kind \"SpiderIpPool\" (apiVersion spiderpool.spidernet.io/v2beta1) is "
            "not an ipfence object; expected SpiderIPPool, SpiderReservedIP or SpiderMultusConfig "
            "(apiVersion spiderpool.spidernet.io/v2beta1); did you mean SpiderIPPool?");
  EXPECT_EQ(error_of("kind: SpiderIPPool\nmetadata: {name: a}\n"),
            "document 0 (SpiderIPPool): apiVersion: required field is missing; set it to "
            "spiderpool.spidernet.io/v2beta1");
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta2\nkind: SpiderIPPool\n"),
            "document 0 (SpiderIPPool): apiVersion: expected \"spiderpool.spidernet.io/v2beta1\" "
            "for SpiderIPPool, got \"spiderpool.spidernet.io/v2beta2\"");
}

TEST(Manifest, UnknownFieldsAreErrorsWithSuggestions) {
  EXPECT_EQ(error_of(pool("  subnet: 10.6.0.0/16\n  excludeIps: [10.6.0.1]\n")),
            kPoolPrefix + "unknown field \"spec.excludeIps\"; did you mean \"spec.excludeIPs\"?");
  EXPECT_EQ(error_of(pool("  subnet: 10.6.0.0/16\n  gatway: 10.6.0.1\n")),
            kPoolPrefix + "unknown field \"spec.gatway\"; did you mean \"spec.gateway\"?");
  EXPECT_EQ(error_of(pool("  foo: 1\n")), kPoolPrefix + "unknown field \"spec.foo\"");
  EXPECT_EQ(error_of(kPoolHead + "specs: {}\n"),
            kPoolPrefix + "unknown field \"specs\"; did you mean \"spec\"?");
  EXPECT_EQ(error_of(kPoolHead + "  nmae: x\n"),
            kPoolPrefix + "unknown field \"metadata.nmae\"; did you mean \"metadata.name\"?");
  EXPECT_EQ(error_of(multus("  macvlan:\n    master: [ens192]\n    vlanId: 5\n")),
            kMultusPrefix +
                "unknown field \"spec.macvlan.vlanId\"; did you mean \"spec.macvlan.vlanID\"?");
  EXPECT_EQ(error_of(multus("  macvlan:\n    ippools: {ipv4: [a], IPv6: [b]}\n")),
            kMultusPrefix +
                "unknown field \"spec.macvlan.ippools.IPv6\"; did you mean "
                "\"spec.macvlan.ippools.ipv6\"?");
}

TEST(Manifest, SpiderpoolFieldsIpfenceDoesNotImplement) {
  EXPECT_EQ(error_of(pool("  vlan: 100\n")),
            kPoolPrefix +
                "spec.vlan: deprecated in Spiderpool and not used by ipfence; remove it and set "
                "spec.macvlan.vlanID in the SpiderMultusConfig instead");
  EXPECT_EQ(error_of(multus("  cniType: ipvlan\n  ipvlan: {master: [eth0]}\n")),
            kMultusPrefix +
                "spec.ipvlan: not supported by ipfence, which handles cniType macvlan only; "
                "remove it");
  EXPECT_EQ(error_of(multus("  macvlan:\n    master: [bond0]\n    bond: {name: bond0, mode: 1}\n")),
            kMultusPrefix +
                "spec.macvlan.bond: not supported by ipfence; create the bond on the node and "
                "name it in spec.macvlan.master");
}

TEST(Manifest, StatusIsAcceptedAndIgnored) {
  const auto p = parse_one<SpiderIPPool>(
      pool("  subnet: 10.6.0.0/16\nstatus:\n  allocatedIPCount: 1\n  allocatedIPs: '{}'\n"));
  EXPECT_EQ(p.spec.subnet, "10.6.0.0/16");
}

// --- metadata --------------------------------------------------------------------------------

TEST(Manifest, KubectlGetOutputIsAccepted) {
  const std::string text = R"(apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"spiderpool.spidernet.io/v2beta1","kind":"SpiderIPPool"}
  creationTimestamp: "2024-05-01T10:00:00Z"
  finalizers:
  - spiderpool.spidernet.io
  generation: 1
  labels:
    ipam.spidernet.io/ippool-cidr: 10-6-0-0-16
  managedFields:
  - apiVersion: spiderpool.spidernet.io/v2beta1
    fieldsType: FieldsV1
  name: test-ippool
  resourceVersion: "12345"
  uid: 4b1c2a5e-0000-4000-8000-000000000001
spec:
  default: false
  disable: false
  ipVersion: 4
  ips:
  - 10.6.168.131-10.6.168.133
  subnet: 10.6.0.0/16
status:
  allocatedIPCount: 0
  totalIPCount: 3
)";
  const auto p = parse_one<SpiderIPPool>(text);
  EXPECT_EQ(p.metadata.name, "test-ippool");
  EXPECT_EQ(p.metadata.uid, "4b1c2a5e-0000-4000-8000-000000000001");
  EXPECT_EQ(p.metadata.creation_timestamp, "2024-05-01T10:00:00Z");
  EXPECT_EQ(p.metadata.resource_version, 0);  // the store's, never the user's
  EXPECT_EQ(p.metadata.labels.at("ipam.spidernet.io/ippool-cidr"), "10-6-0-0-16");
  EXPECT_EQ(p.metadata.annotations.size(), 1u);
  EXPECT_EQ(p.spec.ip_version, 4);
}

TEST(Manifest, MetadataName) {
  const std::string head = "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\n";
  EXPECT_EQ(error_of(head + "metadata:\n  name: Test_Pool\n"),
            "document 0 (SpiderIPPool): metadata.name: \"Test_Pool\" is not a valid name: a "
            "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
            "or '.', and must start and end with an alphanumeric character");
  EXPECT_EQ(error_of(head + "spec: {}\n"),
            "document 0 (SpiderIPPool): metadata.name: required field is missing; every object "
            "needs a name");
  EXPECT_EQ(error_of(head + "metadata:\n  name: \"\"\n"),
            "document 0 (SpiderIPPool): metadata.name: required field is missing; every object "
            "needs a name");
  EXPECT_EQ(error_of(head + "metadata:\n  name: 5\n"),
            "document 0 (SpiderIPPool): metadata.name: expected a string, got 5");
  EXPECT_EQ(error_of(head + "metadata: [a]\n"),
            "document 0 (SpiderIPPool): metadata: expected an object, got [\"a\"]");
  EXPECT_EQ(error_of(head + "metadata:\n  name: " + std::string(254, 'a') + "\n"),
            "document 0 (SpiderIPPool): metadata.name: \"" + std::string(116, 'a') +
                "... is not a valid name: must be no more than 253 characters");
}

TEST(Manifest, MetadataNamespace) {
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n"
                     "metadata:\n  name: r\n  namespace: default\n"),
            "document 0 (SpiderReservedIP r): metadata.namespace: SpiderReservedIP is "
            "cluster-scoped and has no namespace; remove metadata.namespace, got \"default\"");
  // An empty namespace is the same as none.
  EXPECT_EQ(parse_one<SpiderIPPool>(kPoolHead + "  namespace: \"\"\n").metadata.namespace_, "");
  // A SpiderMultusConfig without a namespace lands in "default", as with kubectl.
  const auto c = parse_one<SpiderMultusConfig>(multus("  macvlan: {master: [ens192]}\n"));
  EXPECT_EQ(c.metadata.namespace_, "default");
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderMultusConfig\n"
                     "metadata:\n  name: m\n  namespace: kube.system\n"),
            "document 0 (SpiderMultusConfig m): metadata.namespace: \"kube.system\" is not a valid "
            "namespace: a lowercase RFC 1123 label must consist of lower case alphanumeric "
            "characters or '-', and must start and end with an alphanumeric character");
}

TEST(Manifest, MetadataLabelsAndAnnotations) {
  EXPECT_EQ(error_of(kPoolHead + "  labels: {app: 1}\n"),
            kPoolPrefix + "metadata.labels[app]: expected a string, got 1");
  EXPECT_EQ(error_of(kPoolHead + "  annotations: [a]\n"),
            kPoolPrefix + "metadata.annotations: expected a map of strings, got [\"a\"]");
  EXPECT_EQ(error_of(kPoolHead + "  uid: 5\n"),
            kPoolPrefix + "metadata.uid: expected a string, got 5");
}

// --- spec types --------------------------------------------------------------------------------

TEST(Manifest, ListsOfStrings) {
  EXPECT_EQ(error_of(pool("  ips: 10.0.0.1\n")),
            kPoolPrefix + "spec.ips: expected a list of strings, got \"10.0.0.1\"");
  EXPECT_EQ(error_of(pool("  ips: [10.0.0.1, 5]\n")),
            kPoolPrefix + "spec.ips[1]: expected a string, got 5");
  EXPECT_EQ(error_of(pool("  nodeName: {a: b}\n")),
            kPoolPrefix + "spec.nodeName: expected a list of strings, got {\"a\":\"b\"}");
}

TEST(Manifest, Routes) {
  auto p = parse_one<SpiderIPPool>(pool("  routes:\n  - dst: 10.7.0.0/16\n    gw: 10.6.0.1\n"));
  ASSERT_EQ(p.spec.routes.size(), 1u);
  EXPECT_EQ(p.spec.routes[0], (Route{"10.7.0.0/16", "10.6.0.1"}));
  EXPECT_EQ(error_of(pool("  routes: {dst: a}\n")),
            kPoolPrefix + "spec.routes: expected a list of {dst, gw}, got {\"dst\":\"a\"}");
  EXPECT_EQ(
      error_of(pool("  routes: [10.7.0.0/16]\n")),
      kPoolPrefix + "spec.routes[0]: expected an object with dst and gw, got \"10.7.0.0/16\"");
  EXPECT_EQ(error_of(pool("  routes:\n  - dst: 10.7.0.0/16\n")),
            kPoolPrefix + "spec.routes[0].gw: required field is missing");
  EXPECT_EQ(error_of(pool("  routes:\n  - {gw: 10.6.0.1}\n")),
            kPoolPrefix + "spec.routes[0].dst: required field is missing");
  EXPECT_EQ(error_of(pool("  routes:\n  - {dst: 10.7.0.0/16, gw: 10.6.0.1, via: x}\n")),
            kPoolPrefix + "unknown field \"spec.routes[0].via\"");
  EXPECT_EQ(error_of(pool("  routes:\n  - {dst: 10.7.0.0/16, gw: [10.6.0.1]}\n")),
            kPoolPrefix + "spec.routes[0].gw: expected a string, got [\"10.6.0.1\"]");
}

TEST(Manifest, LabelSelectors) {
  auto p = parse_one<SpiderIPPool>(
      pool("  podAffinity:\n    matchLabels: {app: demo}\n"
           "    matchExpressions:\n    - {key: tier, operator: In, values: [web]}\n"
           "    - {key: gpu, operator: DoesNotExist}\n"
           "  namespaceAffinity: {matchLabels: {team: a}}\n"
           "  nodeAffinity: {matchExpressions: [{key: zone, operator: NotIn, values: [b]}]}\n"));
  EXPECT_EQ(p.spec.pod_affinity["matchLabels"]["app"], "demo");
  EXPECT_EQ(p.spec.pod_affinity["matchExpressions"][1]["operator"], "DoesNotExist");
  EXPECT_EQ(p.spec.namespace_affinity["matchLabels"]["team"], "a");
  EXPECT_EQ(p.spec.node_affinity["matchExpressions"][0]["values"][0], "b");

  EXPECT_EQ(error_of(pool("  podAffinity: app=demo\n")),
            kPoolPrefix +
                "spec.podAffinity: expected a label selector (an object with matchLabels or "
                "matchExpressions), got \"app=demo\"");
  EXPECT_EQ(error_of(pool("  nodeAffinity: {matchLabels: {zone: [a]}}\n")),
            kPoolPrefix + "spec.nodeAffinity.matchLabels[zone]: expected a string, got [\"a\"]");
  EXPECT_EQ(error_of(pool("  podAffinity: {matchLabel: {a: b}}\n")),
            kPoolPrefix +
                "unknown field \"spec.podAffinity.matchLabel\"; did you mean "
                "\"spec.podAffinity.matchLabels\"?");
  EXPECT_EQ(error_of(pool("  podAffinity: {matchExpressions: {key: a}}\n")),
            kPoolPrefix +
                "spec.podAffinity.matchExpressions: expected a list of requirements, got "
                "{\"key\":\"a\"}");
  EXPECT_EQ(error_of(pool("  podAffinity: {matchExpressions: [a]}\n")),
            kPoolPrefix +
                "spec.podAffinity.matchExpressions[0]: expected an object with key, operator and "
                "values, got \"a\"");
  EXPECT_EQ(error_of(pool("  podAffinity: {matchExpressions: [{operator: Exists}]}\n")),
            kPoolPrefix + "spec.podAffinity.matchExpressions[0].key: required field is missing");
  EXPECT_EQ(
      error_of(pool("  podAffinity: {matchExpressions: [{key: a}]}\n")),
      kPoolPrefix + "spec.podAffinity.matchExpressions[0].operator: required field is missing");
  EXPECT_EQ(error_of(pool("  namespaceAffinity: {matchExpressions: [{key: a, operator: in}]}\n")),
            kPoolPrefix +
                "spec.namespaceAffinity.matchExpressions[0].operator: expected In, NotIn, Exists "
                "or DoesNotExist, got \"in\"");
  EXPECT_EQ(
      error_of(pool("  podAffinity: {matchExpressions: [{key: a, operator: In}]}\n")),
      kPoolPrefix +
          "spec.podAffinity.matchExpressions[0].values: operator In needs at least one value");
  EXPECT_EQ(error_of(pool(
                "  podAffinity: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}\n")),
            kPoolPrefix +
                "spec.podAffinity.matchExpressions[0].values: operator Exists takes no values, got "
                "[\"x\"]");
  EXPECT_EQ(
      error_of(pool("  podAffinity: {matchExpressions: [{key: a, operator: In, values: x}]}\n")),
      kPoolPrefix +
          "spec.podAffinity.matchExpressions[0].values: expected a list of strings, got \"x\"");
}

TEST(Manifest, ReservedSpec) {
  const auto r = parse_one<SpiderReservedIP>(
      "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n"
      "metadata: {name: r}\nspec: {ipVersion: 6, ips: ['fd00::1-fd00::9']}\n");
  EXPECT_EQ(r.spec.ip_version, 6);
  EXPECT_EQ(r.spec.ips, std::vector<std::string>{"fd00::1-fd00::9"});
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n"
                     "metadata: {name: r}\nspec: {ips: [10.0.0.1], subnet: 10.0.0.0/8}\n"),
            "document 0 (SpiderReservedIP r): unknown field \"spec.subnet\"");
  EXPECT_EQ(error_of("apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n"
                     "metadata: {name: r}\nspec: [10.0.0.1]\n"),
            "document 0 (SpiderReservedIP r): spec: expected an object, got [\"10.0.0.1\"]");
}

TEST(Manifest, MultusSpec) {
  const auto c = parse_one<SpiderMultusConfig>(multus(
      "  cniType: macvlan\n  enableCoordinator: false\n  disableIPAM: true\n"
      "  macvlan:\n    master: [ens192]\n    vlanID: 100\n"
      "    ippools: {ipv4: [test-ippool], ipv6: [test-ippool-v6]}\n"
      "  coordinator:\n    mode: underlay\n    tunePodRoutes: true\n    hostRuleTable: 500\n"));
  EXPECT_FALSE(c.spec.enable_coordinator);
  EXPECT_TRUE(c.spec.disable_ipam);
  EXPECT_EQ(c.spec.macvlan.vlan_id, 100);
  EXPECT_EQ(c.spec.macvlan.ipv4_pools, std::vector<std::string>{"test-ippool"});
  EXPECT_EQ(c.spec.macvlan.ipv6_pools, std::vector<std::string>{"test-ippool-v6"});
  EXPECT_EQ(c.spec.coordinator,
            (json{{"mode", "underlay"}, {"tunePodRoutes", true}, {"hostRuleTable", 500}}));
  // An absent cniType keeps the model's default; validation decides what is allowed.
  EXPECT_EQ(parse_one<SpiderMultusConfig>(multus("  macvlan: {master: [a]}\n")).spec.cni_type,
            "macvlan");
  EXPECT_EQ(error_of(multus("  macvlan: [ens192]\n")),
            kMultusPrefix + "spec.macvlan: expected an object, got [\"ens192\"]");
  EXPECT_EQ(error_of(multus("  macvlan: {master: ens192}\n")),
            kMultusPrefix + "spec.macvlan.master: expected a list of strings, got \"ens192\"");
  EXPECT_EQ(error_of(multus("  macvlan: {vlanID: '100'}\n")),
            kMultusPrefix + "spec.macvlan.vlanID: expected an integer, got \"100\"");
  EXPECT_EQ(error_of(multus("  macvlan: {ippools: [a]}\n")),
            kMultusPrefix + "spec.macvlan.ippools: expected an object, got [\"a\"]");
  EXPECT_EQ(error_of(multus("  coordinator: underlay\n")),
            kMultusPrefix + "spec.coordinator: expected an object, got \"underlay\"");
  EXPECT_EQ(error_of(multus("  enableCoordinator: 1\n")),
            kMultusPrefix + "spec.enableCoordinator: expected true or false, got 1");
}

TEST(Manifest, ParseObjectUsesTheGivenIndex) {
  auto result = parse_object(json{{"kind", "Pod"}, {"apiVersion", "v1"}}, 7);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message.rfind("document 7: kind \"Pod\" (apiVersion v1)", 0), 0u);
  // Kept-as-is JSON must survive a text round trip.
  const json doc = {{"apiVersion", kApiVersion},
                    {"kind", "SpiderMultusConfig"},
                    {"metadata", {{"name", "m"}}},
                    {"spec", {{"coordinator", {{"x", std::nan("")}}}}}};
  result = parse_object(doc, 0);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "document 0 (SpiderMultusConfig m): spec.coordinator[x]: numbers must be finite");
}

TEST(Manifest, ObjectAccessors) {
  Object o = parse_one<SpiderMultusConfig>(testdata("seed_multusconfig.yaml"));
  EXPECT_EQ(object_kind(o), Kind::multusconfig);
  EXPECT_EQ(object_meta(o).namespace_, "kube-system");
  object_meta(o).uid = "u";
  EXPECT_EQ(std::get<SpiderMultusConfig>(o).metadata.uid, "u");
  EXPECT_EQ(object_to_json(o)["metadata"]["uid"], "u");
}

TEST(Dns1123, Subdomain) {
  for (const char* good : {"a", "test-ippool", "a.b.c", "0", "a-1.b-2", "x123"}) {
    EXPECT_FALSE(dns1123_subdomain_problem(good)) << good;
  }
  for (const char* bad : {"", "A", "Test_Pool", "-a", "a-", "a..b", ".a", "a.", "a.-b", "a b"}) {
    EXPECT_TRUE(dns1123_subdomain_problem(bad)) << bad;
  }
  EXPECT_FALSE(dns1123_subdomain_problem(std::string(253, 'a')));
  EXPECT_EQ(dns1123_subdomain_problem(std::string(254, 'a')),
            "must be no more than 253 characters");
}

}  // namespace
}  // namespace ipfence::ipam
