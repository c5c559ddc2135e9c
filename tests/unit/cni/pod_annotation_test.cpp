// Pod annotations handed over in args.cni, in Spiderpool's shapes, and their precedence.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cni/netconf.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;

json conf_with_args(const json& cni_args) {
  json conf = json::parse(R"({
    "cniVersion": "1.0.0", "name": "macvlan-ens192", "type": "macvlan", "master": "ens192",
    "ipam": {"type": "ipfence", "default_ipv4_ippool": ["netconf-default"]}
  })");
  conf["args"]["cni"] = cni_args;
  return conf;
}

TEST(PodAnnotation, IppoolAsAnnotationStringWinsOverDefaults) {
  auto parsed = parse_netconf(
      conf_with_args({{"ipam.spidernet.io/ippool", "{\"ipv4\": [\"test-ippool\"]}"}}).dump(),
      Verb::add);
  ASSERT_TRUE(parsed.ok()) << parsed.error().msg;
  auto pools = pools_for(*parsed, "eth0");
  ASSERT_TRUE(pools.ok());
  EXPECT_EQ(pools->ipv4, std::vector<std::string>{"test-ippool"});
  EXPECT_TRUE(pools->ipv6.empty());
}

TEST(PodAnnotation, IppoolsPicksTheEntryOfTheInterface) {
  json ippools = json::array({{{"interface", "eth0"}, {"ipv4", {"a"}}},
                              {{"interface", "net1"}, {"ipv4", {"b"}}, {"ipv6", {"b6"}}}});
  auto parsed =
      parse_netconf(conf_with_args({{"ipam.spidernet.io/ippools", ippools}}).dump(), Verb::add);
  ASSERT_TRUE(parsed.ok()) << parsed.error().msg;
  auto net1 = pools_for(*parsed, "net1");
  ASSERT_TRUE(net1.ok());
  EXPECT_EQ(net1->ipv4, std::vector<std::string>{"b"});
  EXPECT_EQ(net1->ipv6, std::vector<std::string>{"b6"});
  auto missing = pools_for(*parsed, "net2");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, 7);
  EXPECT_EQ(missing.error().msg,
            "args.cni[\"ipam.spidernet.io/ippools\"] has no entry for interface net2; add "
            "{\"interface\": \"net2\", \"ipv4\": [...]}");
}

TEST(PodAnnotation, WithoutAnnotationsTheDefaultsApply) {
  auto parsed = parse_netconf(conf_with_args(json::object()).dump(), Verb::add);
  ASSERT_TRUE(parsed.ok());
  auto pools = pools_for(*parsed, "eth0");
  ASSERT_TRUE(pools.ok());
  EXPECT_EQ(pools->ipv4, std::vector<std::string>{"netconf-default"});
}

TEST(PodAnnotation, BadJsonIsError7NamingTheAnnotation) {
  auto parsed = parse_netconf(conf_with_args({{"ipam.spidernet.io/ippool", "{\"ipv4\": "}}).dump(),
                              Verb::add);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 7);
  EXPECT_EQ(parsed.error().msg.rfind("args.cni[\"ipam.spidernet.io/ippool\"] is not valid JSON", 0),
            0u)
      << parsed.error().msg;
}

TEST(PodAnnotation, WrongShapeNamesThePath) {
  auto parsed = parse_netconf(
      conf_with_args({{"ipam.spidernet.io/ippool", json{{"ipv4", "test-ippool"}}}}).dump(),
      Verb::add);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, 7);
  EXPECT_NE(parsed.error().msg.find("args.cni[\"ipam.spidernet.io/ippool\"].ipv4"),
            std::string::npos)
      << parsed.error().msg;
}

// The runtime's cleanup DEL after a failed ADD carries the same config: keys only ADD uses
// must not make DEL fail, or the sandbox can never be torn down.
TEST(DelConfig, IgnoresBadAddOnlyKeys) {
  json conf = conf_with_args({{"ips", {"10.6.168.300"}}, {"ipam.spidernet.io/ippool", "{"}});
  conf["ipam"]["default_ipv4_ippool"] = 42;
  auto add = parse_netconf(conf.dump(), Verb::add);
  ASSERT_FALSE(add.ok());
  EXPECT_EQ(add.error().code, 7);
  auto del = parse_netconf(conf.dump(), Verb::del);
  EXPECT_TRUE(del.ok()) << del.error().msg;
}

TEST(DelConfig, StillChecksWhatDelNeeds) {
  json conf = conf_with_args(json::object());
  conf["ipam"]["type"] = "host-local";
  auto del = parse_netconf(conf.dump(), Verb::del);
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().code, 7);
  EXPECT_EQ(del.error().msg, "ipam.type is \"host-local\"; this plugin is \"ipfence\"");
}

}  // namespace
}  // namespace ipfence::cni
