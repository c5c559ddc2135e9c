#include "cni/netconf.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipfence::cni {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// What macvlan hands its IPAM plugin: the whole plugin config.
json macvlan_conf() {
  return json::parse(R"({
    "cniVersion": "1.0.0", "name": "macvlan-ens192", "type": "macvlan",
    "master": "ens192", "mode": "bridge",
    "ipam": {"type": "ipfence", "default_ipv4_ippool": ["test-ippool"]}
  })");
}

NetConf parse_ok(const json& conf, Verb verb = Verb::add) {
  auto parsed = parse_netconf(conf.dump(), verb);
  EXPECT_TRUE(parsed.ok()) << parsed.error().msg;
  return parsed.ok() ? *parsed : NetConf{};
}

void expect_text_error(const std::string& text, int code, const std::string& msg,
                       Verb verb = Verb::add) {
  auto parsed = parse_netconf(text, verb);
  ASSERT_FALSE(parsed.ok()) << text;
  EXPECT_EQ(parsed.error().code, code) << text;
  EXPECT_EQ(parsed.error().msg, msg) << text;
}

void expect_error(const json& conf, int code, const std::string& msg, Verb verb = Verb::add) {
  expect_text_error(conf.dump(), code, msg, verb);
}

TEST(NetConf, ParsesMacvlanConfig) {
  NetConf conf = parse_ok(macvlan_conf());
  EXPECT_EQ(conf.cni_version, "1.0.0");
  EXPECT_EQ(conf.network, "macvlan-ens192");
  EXPECT_EQ(conf.master, "ens192");
  EXPECT_EQ(conf.socket, "/run/ipfence/agent.sock");
  EXPECT_EQ(conf.ipv4_pools, std::vector<std::string>{"test-ippool"});
  EXPECT_TRUE(conf.ipv6_pools.empty());
  EXPECT_EQ(conf.timeout, 30s);
  EXPECT_TRUE(conf.ips.empty());
}

TEST(NetConf, AllIpamKeys) {
  json c = macvlan_conf();
  c["ipam"] = {{"type", "ipfence"},
               {"socket", "/tmp/a.sock"},
               {"default_ipv4_ippool", "v4-pool"},
               {"default_ipv6_ippool", {"v6-a", "v6-b"}},
               {"timeout", "1m30s"},
               {"log_level", "debug"}};  // unknown keys are someone else's
  NetConf conf = parse_ok(c);
  EXPECT_EQ(conf.socket, "/tmp/a.sock");
  EXPECT_EQ(conf.ipv4_pools, std::vector<std::string>{"v4-pool"});
  EXPECT_EQ(conf.ipv6_pools, (std::vector<std::string>{"v6-a", "v6-b"}));
  EXPECT_EQ(conf.timeout, 90s);
}

TEST(NetConf, NumericTimeoutInSeconds) {
  json c = macvlan_conf();
  c["ipam"]["timeout"] = 2.5;
  EXPECT_EQ(parse_ok(c).timeout, 2500ms);
}

TEST(NetConf, SpecificIpsFromArgsAndRuntimeConfig) {
  json c = macvlan_conf();
  c["args"] = {{"cni", {{"ips", {"10.6.168.133", "fd00::5/64"}}}}};
  c["runtimeConfig"] = {{"ips", {"10.6.168.133/16", "10.6.168.134"}}};
  EXPECT_EQ(parse_ok(c).ips, (std::vector<std::string>{"10.6.168.133", "fd00::5", "10.6.168.134"}));
}

TEST(NetConf, NullSectionsAreAbsent) {
  json c = macvlan_conf();
  c["args"] = nullptr;
  c["runtimeConfig"] = {{"ips", nullptr}};
  c["ipam"]["default_ipv6_ippool"] = nullptr;
  EXPECT_TRUE(parse_ok(c).ips.empty());
}

TEST(NetConf, NotJson) {
  auto parsed = parse_netconf("{\"cniVersion\": ", Verb::add);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 6);
  EXPECT_EQ(parsed.error().msg.rfind("failed to decode the network config on stdin as JSON: ", 0),
            0u)
      << parsed.error().msg;
}

TEST(NetConf, NotAnObject) {
  expect_text_error("[1]", 6, "the network config on stdin must be a JSON object, got a list");
}

TEST(NetConf, MissingCniVersion) {
  json c = macvlan_conf();
  c.erase("cniVersion");
  expect_error(c, 1,
               "the network config has no cniVersion (CNI reads that as 0.1.0); ipfence supports "
               "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
}

TEST(NetConf, UnsupportedCniVersion) {
  json c = macvlan_conf();
  c["cniVersion"] = "0.2.0";
  expect_error(c, 1,
               "cniVersion 0.2.0 is not supported; ipfence supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, "
               "1.1.0");
}

TEST(NetConf, CniVersionWrongType) {
  json c = macvlan_conf();
  c["cniVersion"] = 1;
  expect_error(c, 7, "cniVersion must be a string, got a number");
}

TEST(NetConf, GcAndStatusNeed110) {
  json c = macvlan_conf();
  expect_error(c, 1, "GC needs cniVersion 1.1.0; the network config says 1.0.0", Verb::gc);
  expect_error(c, 1, "STATUS needs cniVersion 1.1.0; the network config says 1.0.0", Verb::status);
  c["cniVersion"] = "1.1.0";
  EXPECT_TRUE(parse_netconf(c.dump(), Verb::status).ok());
}

TEST(NetConf, CheckNeeds040) {
  json c = macvlan_conf();
  c["cniVersion"] = "0.3.1";
  expect_error(c, 1, "CHECK needs cniVersion 0.4.0 or later; the network config says 0.3.1",
               Verb::check);
  EXPECT_TRUE(parse_netconf(c.dump(), Verb::add).ok());
}

TEST(NetConf, MissingName) {
  json c = macvlan_conf();
  c.erase("name");
  expect_error(c, 7, "name (the network name) must be set in the network config");
}

TEST(NetConf, MasterWrongType) {
  json c = macvlan_conf();
  c["master"] = {"ens192"};
  expect_error(c, 7, "master must be a string, got a list");
}

TEST(NetConf, MissingIpam) {
  json c = macvlan_conf();
  c.erase("ipam");
  expect_error(c, 7,
               "the network config has no ipam section; use \"ipam\": {\"type\": \"ipfence\"}");
}

TEST(NetConf, IpamNotAnObject) {
  json c = macvlan_conf();
  c["ipam"] = "ipfence";
  expect_error(c, 7, "ipam must be an object, got a string");
}

TEST(NetConf, WrongIpamType) {
  json c = macvlan_conf();
  c["ipam"]["type"] = "host-local";
  expect_error(c, 7, "ipam.type is \"host-local\"; this plugin is \"ipfence\"");
  c["ipam"].erase("type");
  expect_error(c, 7, "ipam.type is missing; it must be \"ipfence\"");
  c["ipam"]["type"] = 5;
  expect_error(c, 7, "ipam.type must be a string, got a number");
}

TEST(NetConf, SocketWrongType) {
  json c = macvlan_conf();
  c["ipam"]["socket"] = true;
  expect_error(c, 7, "ipam.socket must be a string, got a boolean");
}

TEST(NetConf, PoolListErrors) {
  json c = macvlan_conf();
  c["ipam"]["default_ipv4_ippool"] = {{"name", "x"}};
  expect_error(c, 7, "ipam.default_ipv4_ippool must be a list of pool names, got an object");
  c["ipam"]["default_ipv4_ippool"] = {"ok", 3};
  expect_error(c, 7, "ipam.default_ipv4_ippool[1] must be a pool name (string), got a number");
  c["ipam"]["default_ipv4_ippool"] = {"ok", ""};
  expect_error(c, 7, "ipam.default_ipv4_ippool[1] must name a pool, got an empty string");
  c["ipam"]["default_ipv4_ippool"] = "";
  expect_error(c, 7, "ipam.default_ipv4_ippool must name a pool, got an empty string");
  c["ipam"]["default_ipv4_ippool"] = {"ok"};
  c["ipam"]["default_ipv6_ippool"] = 6;
  expect_error(c, 7, "ipam.default_ipv6_ippool must be a list of pool names, got a number");
}

TEST(NetConf, TimeoutErrors) {
  json c = macvlan_conf();
  c["ipam"]["timeout"] = 0;
  expect_error(c, 7,
               "ipam.timeout must be a positive number of seconds up to 3600 (seconds, e.g. 30, "
               "or a duration such as \"30s\"), got 0");
  c["ipam"]["timeout"] = "soon";
  expect_error(c, 7,
               "ipam.timeout: 'soon' is not a duration; use seconds (\"30\") or a Go duration "
               "such as \"30s\", \"500ms\" or \"1m30s\"");
  c["ipam"]["timeout"] = {30};
  expect_error(c, 7,
               "ipam.timeout must be a timeout (seconds, e.g. 30, or a duration such as "
               "\"30s\"), got a list");
}

TEST(NetConf, IpsErrors) {
  json c = macvlan_conf();
  c["args"] = {{"cni", {{"ips", {"10.6.168.1", "10.6.168.300"}}}}};
  expect_error(c, 7, "args.cni.ips[1] is '10.6.168.300', which is not an IP address");
  c["args"] = {{"cni", {{"ips", "10.6.168.1"}}}};
  expect_error(c, 7, "args.cni.ips must be a list of IP addresses, got a string");
  c["args"] = {{"cni", 1}};
  expect_error(c, 7, "args.cni must be an object, got a number");
  c["args"] = json::object();
  c["runtimeConfig"] = {{"ips", {7}}};
  expect_error(c, 7, "runtimeConfig.ips[0] must be an IP address (string), got a number");
  c["runtimeConfig"] = {{"ips", {"10.0.0.1/33"}}};
  expect_error(c, 7, "runtimeConfig.ips[0] is '10.0.0.1/33', which is not an IP address");
}

TEST(NetConf, PrevResultForCheck) {
  json c = macvlan_conf();
  c["prevResult"] = json::parse(R"({"cniVersion": "1.0.0",
      "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/pod1"}],
      "ips": [{"address": "10.6.168.133/16", "gateway": "10.6.0.1", "interface": 0}]})");
  EXPECT_EQ(parse_ok(c, Verb::check).prev_ips, std::vector<std::string>{"10.6.168.133/16"});
  c["prevResult"]["ips"][0]["address"] = "10.6.168.133";
  expect_error(c, 7, "prevResult.ips[0].address is '10.6.168.133', which is not a CIDR address",
               Verb::check);
  c["prevResult"]["ips"] = json::array({json::object()});
  expect_error(c, 7, "prevResult.ips[0].address must be a CIDR string such as \"10.6.0.5/16\"",
               Verb::check);
  c["prevResult"] = 1;
  expect_error(c, 7, "prevResult must be an object, got a number", Verb::check);
}

TEST(NetConf, ValidAttachmentsForGc) {
  json c = macvlan_conf();
  c["cniVersion"] = "1.1.0";
  c["cni.dev/valid-attachments"] = {{{"containerID", "c1"}, {"ifname", "eth0"}},
                                    {{"containerID", "c2"}, {"ifname", "net1"}}};
  NetConf conf = parse_ok(c, Verb::gc);
  ASSERT_EQ(conf.valid_attachments.size(), 2u);
  EXPECT_EQ(conf.valid_attachments[1].container_id, "c2");
  EXPECT_EQ(conf.valid_attachments[1].ifname, "net1");

  c["cni.dev/valid-attachments"] = nullptr;  // libcni's empty slice
  EXPECT_TRUE(parse_ok(c, Verb::gc).valid_attachments.empty());

  c["cni.dev/valid-attachments"] = {{{"containerID", "c1"}}};
  expect_error(c, 7, "cni.dev/valid-attachments[0] must have a non-empty containerID and ifname",
               Verb::gc);
  c["cni.dev/valid-attachments"] = {"c1"};
  expect_error(c, 7,
               "cni.dev/valid-attachments[0] must be an object {containerID, ifname}, got a "
               "string",
               Verb::gc);
  c.erase("cni.dev/valid-attachments");
  expect_error(c, 7,
               "GC needs cni.dev/valid-attachments in the network config (runtimes speaking CNI "
               "1.1.0 send it); refusing to release every allocation",
               Verb::gc);
}

TEST(NetConf, PeekVersion) {
  EXPECT_EQ(peek_cni_version(R"({"cniVersion": "0.4.0"})"), "0.4.0");
  EXPECT_EQ(peek_cni_version("not json"), "");
  EXPECT_EQ(peek_cni_version(R"({"cniVersion": 4})"), "");
}

TEST(Duration, GoSpellings) {
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("30"), 30s);
  EXPECT_EQ(*parse_duration("1.5"), 1500ms);
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("1m30s"), 90s);
  EXPECT_EQ(*parse_duration("1h"), 3600s);
  EXPECT_EQ(*parse_duration("1500us"), 2ms);  // rounded up: never a zero timeout
  EXPECT_EQ(*parse_duration("1\u00b5s"), 1ms);
  EXPECT_EQ(*parse_duration(".5s"), 500ms);
}

TEST(Duration, Rejects) {
  for (const char* text : {"", "s", "30x", "1..5s", "-1s", "0s", "0", "2h", "30 s", "."}) {
    auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed.ok()) << text;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, 7);
    }
  }
}

}  // namespace
}  // namespace ipfence::cni
