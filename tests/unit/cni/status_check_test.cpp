#include "cni/status_check.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipfence::cni {
namespace {

using nlohmann::json;

json pool(const std::string& name, int version, long long available, bool is_default = false,
          bool disable = false) {
  return {{"name", name},
          {"ipVersion", version},
          {"subnet", "10.6.0.0/16"},
          {"default", is_default},
          {"disable", disable},
          {"total", 3},
          {"allocated", 3 - available},
          {"reserved", 0},
          {"available", available}};
}

json status(json pools) {
  return {{"node", "node1"},
          {"version", "0.1.0"},
          {"store", {{"url", "file:///var/lib/ipfence"}, {"healthy", true}}},
          {"pools", std::move(pools)}};
}

NetConf conf(std::vector<std::string> v4, std::vector<std::string> v6 = {}) {
  NetConf c;
  c.ipv4_pools = std::move(v4);
  c.ipv6_pools = std::move(v6);
  return c;
}

void expect_50(const json& s, const NetConf& c, const std::string& msg) {
  auto st = check_pools_available(s, c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, 50);
  EXPECT_EQ(st.error().msg, msg);
}

TEST(StatusCheck, ConfiguredPoolWithRoom) {
  EXPECT_TRUE(
      check_pools_available(status({pool("a", 4, 0), pool("b", 4, 2)}), conf({"a", "b"})).ok());
}

TEST(StatusCheck, ConfiguredPoolsExhausted) {
  expect_50(status({pool("a", 4, 0), pool("b", 4, 5, false, true)}), conf({"a", "b", "c"}),
            "no IPv4 address is available in ipam.default_ipv4_ippool: a (0 of 3 available), b "
            "(disabled), c (unknown to the agent)");
}

TEST(StatusCheck, DualStackNeedsBothFamilies) {
  const json s = status({pool("v4", 4, 1), pool("v6", 6, 0)});
  expect_50(s, conf({"v4"}, {"v6"}),
            "no IPv6 address is available in ipam.default_ipv6_ippool: v6 (0 of 3 available)");
  EXPECT_TRUE(check_pools_available(s, conf({"v4"})).ok());
}

TEST(StatusCheck, DefaultPoolsWhenNoneConfigured) {
  EXPECT_TRUE(
      check_pools_available(status({pool("d", 4, 1, true), pool("x", 4, 0)}), conf({})).ok());
  expect_50(status({pool("d", 4, 0, true), pool("x", 4, 9)}), conf({}),
            "no IPv4 address is available in the default pools: d (0 of 3 available)");
}

TEST(StatusCheck, NoPoolAtAll) {
  expect_50(status({pool("x", 4, 9)}), conf({}),
            "the network config names no pool (ipam.default_ipv4_ippool / default_ipv6_ippool) "
            "and the cluster has no default pool (spec.default: true)");
  expect_50(status(json::array()), conf({}),
            "the network config names no pool (ipam.default_ipv4_ippool / default_ipv6_ippool) "
            "and the cluster has no default pool (spec.default: true)");
}

TEST(StatusCheck, UnhealthyStore) {
  json s = status({pool("a", 4, 1)});
  s["store"]["healthy"] = false;
  expect_50(s, conf({"a"}),
            "ipfence-agent's store file:///var/lib/ipfence is not healthy; allocations would fail");
}

TEST(StatusCheck, OddFieldTypesDoNotThrow) {
  json s = status({{{"name", "a"}, {"available", "lots"}, {"disable", "no"}, {"default", 1}}});
  expect_50(s, conf({"a"}),
            "no IPv4 address is available in ipam.default_ipv4_ippool: a (0 of ? available)");
  expect_50(json::array(), conf({"a"}), "ipfence-agent's status is not a JSON object");
}

}  // namespace
}  // namespace ipfence::cni
