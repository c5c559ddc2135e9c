#include "cni/cni_result.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipfence::cni {
namespace {

using nlohmann::json;

// The agent's allocate reply from docs/agent-api.md, dual-stack.
json agent_reply() {
  return json::parse(R"({
    "ips": [{"address": "10.6.168.133/16", "gateway": "10.6.0.1", "pool": "test-ippool", "version": 4},
            {"address": "fd00:6::85/64", "pool": "v6-pool", "version": 6}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.6.0.1"}, {"dst": "fd00:7::/64"}],
    "existing": false})");
}

IpamResult result() {
  auto parsed = ipam_result_from_agent(agent_reply());
  EXPECT_TRUE(parsed.ok()) << parsed.error().msg;
  return *parsed;
}

TEST(CniResult, FromAgentReply) {
  IpamResult r = result();
  ASSERT_EQ(r.ips.size(), 2u);
  EXPECT_EQ(r.ips[0].address, "10.6.168.133/16");
  EXPECT_EQ(r.ips[0].gateway, "10.6.0.1");
  EXPECT_EQ(r.ips[0].version, 4);
  EXPECT_EQ(r.ips[1].gateway, "");
  EXPECT_EQ(r.ips[1].version, 6);
  ASSERT_EQ(r.routes.size(), 2u);
  EXPECT_EQ(r.routes[1].dst, "fd00:7::/64");
  EXPECT_EQ(r.routes[1].gw, "");
}

TEST(CniResult, Renders03xAnd040WithIpVersion) {
  for (const char* version : {"0.3.0", "0.3.1", "0.4.0"}) {
    EXPECT_EQ(render_result(result(), version),
              std::string(R"({"cniVersion":")") + version +
                  R"(","ips":[{"version":"4","address":"10.6.168.133/16","gateway":"10.6.0.1"},)"
                  R"({"version":"6","address":"fd00:6::85/64"}],)"
                  R"("routes":[{"dst":"0.0.0.0/0","gw":"10.6.0.1"},{"dst":"fd00:7::/64"}],)"
                  R"("dns":{}})");
  }
}

TEST(CniResult, Renders1xWithoutIpVersion) {
  for (const char* version : {"1.0.0", "1.1.0"}) {
    EXPECT_EQ(render_result(result(), version),
              std::string(R"({"cniVersion":")") + version +
                  R"(","ips":[{"address":"10.6.168.133/16","gateway":"10.6.0.1"},)"
                  R"({"address":"fd00:6::85/64"}],)"
                  R"("routes":[{"dst":"0.0.0.0/0","gw":"10.6.0.1"},{"dst":"fd00:7::/64"}],)"
                  R"("dns":{}})");
  }
}

TEST(CniResult, NoRoutesLeavesTheKeyOut) {
  IpamResult r;
  r.ips.push_back({"10.6.168.133/16", "", 4});
  EXPECT_EQ(render_result(r, "1.0.0"),
            R"({"cniVersion":"1.0.0","ips":[{"address":"10.6.168.133/16"}],"dns":{}})");
}

TEST(CniResult, NeverRendersInterfaces) {
  const std::string text = render_result(result(), "1.1.0");
  EXPECT_EQ(text.find("interface"), std::string::npos);
}

TEST(CniResult, RejectsUnusableReplies) {
  const std::pair<const char*, const char*> cases[] = {
      {R"([])", "the reply is not a JSON object"},
      {R"({})", "it has no ips"},
      {R"({"ips": []})", "it has no ips"},
      {R"({"ips": [{"gateway": "10.6.0.1"}]})", "ips[0].address '' is not a CIDR address"},
      {R"({"ips": [{"address": "10.6.168.133"}]})",
       "ips[0].address '10.6.168.133' is not a CIDR address"},
      {R"({"ips": [{"address": 5}]})", "ips[0].address is not a string"},
      {R"({"ips": [{"address": "10.6.168.133/16", "gateway": "fd00::1"}]})",
       "ips[0].gateway 'fd00::1' is not an IPv4 address"},
      {R"({"ips": [{"address": "10.6.168.133/16"}], "routes": {}})", "routes is not a list"},
      {R"({"ips": [{"address": "10.6.168.133/16"}], "routes": [{"gw": "10.6.0.1"}]})",
       "routes[0].dst '' is not a CIDR"},
  };
  for (const auto& [reply, why] : cases) {
    auto parsed = ipam_result_from_agent(json::parse(reply));
    ASSERT_FALSE(parsed.ok()) << reply;
    EXPECT_EQ(parsed.error().code, 100);
    EXPECT_EQ(parsed.error().msg,
              std::string("ipfence-agent sent an allocation the plugin cannot use: ") + why);
  }
}

TEST(CniError, Shape) {
  EXPECT_EQ(
      render_error(cni_error(103, "IPPool p: all IPs have been exhausted", "exhausted"), "1.0.0"),
      R"({"cniVersion":"1.0.0","code":103,"msg":"IPPool p: all IPs have been exhausted",)"
      R"("details":"exhausted"})");
}

TEST(CniError, UnknownOrMissingVersionFallsBackTo110) {
  EXPECT_EQ(render_error(cni_error(4, "x"), ""),
            R"({"cniVersion":"1.1.0","code":4,"msg":"x","details":""})");
  EXPECT_EQ(render_error(cni_error(1, "x"), "0.2.0"),
            R"({"cniVersion":"1.1.0","code":1,"msg":"x","details":""})");
  EXPECT_EQ(render_error(cni_error(1, "x"), "0.3.1"),
            R"({"cniVersion":"0.3.1","code":1,"msg":"x","details":""})");
}

TEST(CniError, InvalidUtf8StillRenders) {
  const std::string text = render_error(cni_error(100, "bad \xff byte"), "1.0.0");
  EXPECT_TRUE(json::accept(text)) << text;
}

TEST(CniError, FromIpfenceError) {
  CniError e = to_cni_error(make_error(ErrorCode::exhausted, "all IPs have been exhausted"));
  EXPECT_EQ(e.code, 103);
  EXPECT_EQ(e.details, "exhausted");
}

TEST(CniVersion, Answer) {
  EXPECT_EQ(
      render_version(),
      R"({"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})");
}

}  // namespace
}  // namespace ipfence::cni
