#include "agent/api_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ipfence::agent {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string allocate_error(const std::string& body) {
  auto decoded = decode_allocate(body);
  EXPECT_FALSE(decoded.ok());
  if (decoded.ok()) return "";
  EXPECT_EQ(decoded.error().code, ErrorCode::invalid_argument);
  return decoded.error().message;
}

TEST(ApiCodecTest, DecodesTheDocumentedAllocateRequest) {
  auto request = decode_allocate(R"({"containerID": "c1", "ifname": "eth0",
    "netns": "/var/run/netns/pod1", "network": "macvlan-ens192",
    "pod": {"namespace": "default", "name": "test-app-1", "uid": "u-1"},
    "mac": "aa:bb:cc:dd:ee:ff", "master": "ens192",
    "ipv4Pools": ["test-ippool"], "ipv6Pools": [], "ips": ["10.6.168.133"],
    "someFutureField": 1})");
  ASSERT_TRUE(request.ok()) << request.error().message;
  const ipam::Allocation& id = request->identity;
  EXPECT_EQ(id.container_id, "c1");
  EXPECT_EQ(id.ifname, "eth0");
  EXPECT_EQ(id.netns, "/var/run/netns/pod1");
  EXPECT_EQ(id.network, "macvlan-ens192");
  EXPECT_EQ(id.pod_namespace, "default");
  EXPECT_EQ(id.pod_name, "test-app-1");
  EXPECT_EQ(id.pod_uid, "u-1");
  EXPECT_EQ(id.mac, "aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(id.master, "ens192");
  EXPECT_EQ(request->ipv4_pools, std::vector<std::string>{"test-ippool"});
  EXPECT_TRUE(request->ipv6_pools.empty());
  EXPECT_EQ(request->ips, std::vector<std::string>{"10.6.168.133"});
}

TEST(ApiCodecTest, OnlyContainerIdAndIfnameAreRequired) {
  auto request = decode_allocate(R"({"containerID": "c1", "ifname": "eth0"})");
  ASSERT_TRUE(request.ok());
  EXPECT_TRUE(request->identity.pod_name.empty());
  EXPECT_TRUE(request->ipv4_pools.empty());
}

TEST(ApiCodecTest, BadBodiesAreInvalidArgument) {
  EXPECT_EQ(allocate_error(""), "request body is empty; expected a JSON object");
  EXPECT_EQ(allocate_error("{\"containerID\": "), "request body is not valid JSON");
  EXPECT_EQ(allocate_error("[1]"), "request body must be a JSON object, got array");
}

TEST(ApiCodecTest, FieldErrorsNameTheField) {
  EXPECT_EQ(allocate_error(R"({"ifname": "eth0"})"), "containerID is required");
  EXPECT_EQ(allocate_error(R"({"containerID": "", "ifname": "eth0"})"), "containerID is required");
  EXPECT_EQ(allocate_error(R"({"containerID": "c1"})"), "ifname is required");
  EXPECT_EQ(allocate_error(R"({"containerID": 5, "ifname": "eth0"})"),
            "containerID: expected a string, got number");
  EXPECT_EQ(allocate_error(R"({"containerID": "c1", "ifname": "eth0", "ipv4Pools": "p"})"),
            "ipv4Pools: expected a list of strings, got string");
  EXPECT_EQ(allocate_error(R"({"containerID": "c1", "ifname": "eth0", "ips": ["a", 1]})"),
            "ips[1]: expected a string, got number");
  EXPECT_EQ(allocate_error(R"({"containerID": "c1", "ifname": "eth0", "pod": "default/x"})"),
            "pod: expected an object, got string");
  EXPECT_EQ(allocate_error(R"({"containerID": "c1", "ifname": "eth0", "pod": {"name": 1}})"),
            "pod.name: expected a string, got number");
}

TEST(ApiCodecTest, DecodesReleaseCheckAndGc) {
  auto release = decode_release(R"({"containerID": "c1", "ifname": "eth0"})");
  ASSERT_TRUE(release.ok());
  EXPECT_EQ(release->container_id, "c1");
  EXPECT_EQ(decode_release(R"({"containerID": "c1"})").error().message, "ifname is required");

  auto check = decode_check(R"({"containerID": "c1", "ifname": "eth0"})");
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->ips.has_value());
  auto with_ips =
      decode_check(R"({"containerID": "c1", "ifname": "eth0", "ips": ["10.6.168.133/16"]})");
  ASSERT_TRUE(with_ips.ok());
  EXPECT_EQ(*with_ips->ips, std::vector<std::string>{"10.6.168.133/16"});

  auto gc = decode_gc(R"({"network": "macvlan-ens192",
    "validAttachments": [{"containerID": "c1", "ifname": "eth0"}]})");
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->network, "macvlan-ens192");
  ASSERT_EQ(gc->valid.size(), 1u);
  EXPECT_EQ(gc->valid[0], std::make_pair(std::string("c1"), std::string("eth0")));
  EXPECT_EQ(decode_gc(R"({"validAttachments": []})").error().message, "network is required");
  EXPECT_EQ(
      decode_gc(R"({"network": "n", "validAttachments": [{"containerID": "c1"}]})").error().message,
      "validAttachments[0].ifname is required");
  EXPECT_EQ(decode_gc(R"({"network": "n", "validAttachments": ["c1"]})").error().message,
            "validAttachments[0]: expected an object {containerID, ifname}, got string");
}

TEST(ApiCodecTest, StatusTableOfTheApiDoc) {
  EXPECT_EQ(http_status(ErrorCode::invalid_argument), 400);
  EXPECT_EQ(http_status(ErrorCode::not_found), 404);
  EXPECT_EQ(http_status(ErrorCode::conflict), 409);
  EXPECT_EQ(http_status(ErrorCode::already_exists), 409);
  EXPECT_EQ(http_status(ErrorCode::in_use), 409);
  EXPECT_EQ(http_status(ErrorCode::mismatch), 409);
  EXPECT_EQ(http_status(ErrorCode::exhausted), 422);
  EXPECT_EQ(http_status(ErrorCode::ip_unavailable), 422);
  EXPECT_EQ(http_status(ErrorCode::no_pool), 422);
  EXPECT_EQ(http_status(ErrorCode::unavailable), 503);
  EXPECT_EQ(http_status(ErrorCode::compacted), 503);
  EXPECT_EQ(http_status(ErrorCode::io), 500);
  EXPECT_EQ(http_status(ErrorCode::corrupt), 500);
  EXPECT_EQ(http_status(ErrorCode::internal), 500);
}

TEST(ApiCodecTest, ErrorBodyCarriesNameCniCodeAndMessageUnchanged) {
  const std::string message =
      "IPPool test-ippool: all IPs have been exhausted (3 IPs: 2 reserved, 1 allocated)";
  HttpResponse response = error_response(make_error(ErrorCode::exhausted, message));
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(json::parse(response.body),
            json({{"error", {{"code", "exhausted"}, {"cniCode", 103}, {"message", message}}}}));
}

ipam::AllocateResult one_ip(const std::string& ip, bool gateway) {
  ipam::AllocateResult result;
  ipam::AllocatedIp allocated;
  allocated.ip = *ipam::IpAddress::parse(ip);
  allocated.pool = "test-ippool";
  allocated.address = ipam::IpPrefix{allocated.ip, 16};
  if (gateway) {
    allocated.gateway = *ipam::IpAddress::parse("10.6.0.1");
    result.routes.push_back({"0.0.0.0/0", "10.6.0.1"});
  }
  result.ips.push_back(allocated);
  return result;
}

TEST(ApiCodecTest, EncodesAddressWithThePoolPrefixLength) {
  json with_gateway = encode_allocate(one_ip("10.6.168.133", true));
  EXPECT_EQ(with_gateway, json::parse(R"({"ips": [{"address": "10.6.168.133/16",
    "gateway": "10.6.0.1", "pool": "test-ippool", "version": 4}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.6.0.1"}], "existing": false})"));
  json without = encode_allocate(one_ip("10.6.168.133", false));
  EXPECT_FALSE(without["ips"][0].contains("gateway"));
  EXPECT_EQ(without["routes"], json::array());
}

TEST(ApiCodecTest, EncodesReleaseAndGc) {
  ipam::ReleaseResult released;
  released.released.push_back({"test-ippool", "10.6.168.133"});
  EXPECT_EQ(encode_release(released), json::parse(R"({"released": ["10.6.168.133"]})"));
  EXPECT_EQ(encode_release({}), json::parse(R"({"released": []})"));

  ipam::GcResult gc;
  gc.released.push_back({"c2", "eth0", {"10.6.168.131"}});
  EXPECT_EQ(encode_gc(gc), json::parse(R"({"released": [{"containerID": "c2",
    "ifname": "eth0", "ips": ["10.6.168.131"]}]})"));
  gc.errors.push_back("boom");
  EXPECT_EQ(encode_gc(gc)["errors"], json::array({"boom"}));
}

TEST(ApiCodecTest, CompareIpsIgnoresLengthAndNamesTheDifference) {
  AttachmentId id{"c1", "eth0"};
  auto held = one_ip("10.6.168.133", false);
  EXPECT_TRUE(compare_ips(id, held, {"10.6.168.133/16"}).ok());
  EXPECT_TRUE(compare_ips(id, held, {"10.6.168.133"}).ok());
  auto differs = compare_ips(id, held, {"10.6.168.134"});
  ASSERT_FALSE(differs.ok());
  EXPECT_EQ(differs.error().code, ErrorCode::mismatch);
  EXPECT_EQ(differs.error().message,
            "container c1 interface eth0 holds 10.6.168.133, not 10.6.168.134");
  auto bad = compare_ips(id, held, {"10.6.168"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
  EXPECT_THAT(bad.error().message, HasSubstr("ips[0]: "));
}

}  // namespace
}  // namespace ipfence::agent
