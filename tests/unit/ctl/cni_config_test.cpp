// The conflist/NAD renderer lives in ipam/ (the agent uses it too); it is tested here, next to
// `ipfencectl render`, its first user.
#include "ipam/cni_config.h"

#include <gtest/gtest.h>

namespace ipfence::ipam {
namespace {

// The seed's SpiderMultusConfig (MACVLAN_MASTER_INTERFACE=ens192).
SpiderMultusConfig seed_config() {
  SpiderMultusConfig config;
  config.metadata.name = "macvlan-ens192";
  config.metadata.namespace_ = "kube-system";
  config.spec.cni_type = "macvlan";
  config.spec.enable_coordinator = true;
  config.spec.macvlan.master = {"ens192"};
  return config;
}

TEST(RenderConflist, SeedConfig) {
  Result<nlohmann::json> conflist = render_conflist(seed_config());
  ASSERT_TRUE(conflist.ok()) << conflist.error().message;
  // No coordinator plugin: ipfence ships none.
  EXPECT_EQ(conflist->dump(),
            R"({"cniVersion":"1.0.0","name":"macvlan-ens192","plugins":[)"
            R"({"ipam":{"type":"ipfence"},"master":"ens192","mode":"bridge","type":"macvlan"}]})");
}

TEST(RenderConflist, PoolsVlanAndSocket) {
  SpiderMultusConfig config = seed_config();
  config.spec.macvlan.vlan_id = 100;
  config.spec.macvlan.ipv4_pools = {"test-ippool"};
  config.spec.macvlan.ipv6_pools = {"v6-a", "v6-b"};
  Result<nlohmann::json> conflist = render_conflist(config, {"/run/other/agent.sock"});
  ASSERT_TRUE(conflist.ok()) << conflist.error().message;
  EXPECT_EQ((*conflist)["plugins"][0].dump(),
            R"({"ipam":{"default_ipv4_ippool":["test-ippool"],)"
            R"("default_ipv6_ippool":["v6-a","v6-b"],"socket":"/run/other/agent.sock",)"
            R"("type":"ipfence"},"master":"ens192.100","mode":"bridge","type":"macvlan"})");
}

TEST(RenderConflist, DefaultSocketAndVlanZeroAreNotRendered) {
  SpiderMultusConfig config = seed_config();
  config.spec.macvlan.vlan_id = 0;
  Result<nlohmann::json> conflist = render_conflist(config, {kDefaultAgentSocket});
  ASSERT_TRUE(conflist.ok());
  EXPECT_EQ((*conflist)["plugins"][0]["master"], "ens192");
  EXPECT_FALSE((*conflist)["plugins"][0]["ipam"].contains("socket"));
}

TEST(RenderConflist, DisableIpamDropsTheIpamSection) {
  SpiderMultusConfig config = seed_config();
  config.spec.disable_ipam = true;
  config.spec.macvlan.ipv4_pools = {"test-ippool"};
  Result<nlohmann::json> conflist = render_conflist(config);
  ASSERT_TRUE(conflist.ok());
  EXPECT_EQ((*conflist)["plugins"][0].dump(),
            R"({"master":"ens192","mode":"bridge","type":"macvlan"})");
}

TEST(RenderConflist, Refusals) {
  SpiderMultusConfig two_masters = seed_config();
  two_masters.spec.macvlan.master = {"ens192", "ens224"};
  Result<nlohmann::json> bonded = render_conflist(two_masters);
  ASSERT_FALSE(bonded.ok());
  EXPECT_EQ(bonded.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(bonded.error().message,
            "spec.macvlan.master: 2 masters need a bond, which ipfence does not create; "
            "name one master");

  SpiderMultusConfig no_master = seed_config();
  no_master.spec.macvlan.master.clear();
  EXPECT_FALSE(render_conflist(no_master).ok());

  SpiderMultusConfig ipvlan = seed_config();
  ipvlan.spec.cni_type = "ipvlan";
  Result<nlohmann::json> other = render_conflist(ipvlan);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message, "spec.cniType: \"ipvlan\" is not supported; use macvlan");

  SpiderMultusConfig bad_vlan = seed_config();
  bad_vlan.spec.macvlan.vlan_id = 4095;
  EXPECT_FALSE(render_conflist(bad_vlan).ok());
}

TEST(RenderNad, SeedConfigYaml) {
  const SpiderMultusConfig config = seed_config();
  Result<nlohmann::json> conflist = render_conflist(config);
  ASSERT_TRUE(conflist.ok());
  EXPECT_EQ(render_nad_yaml(config, *conflist),
            "apiVersion: k8s.cni.cncf.io/v1\n"
            "kind: NetworkAttachmentDefinition\n"
            "metadata:\n"
            "  name: macvlan-ens192\n"
            "  namespace: kube-system\n"
            "spec:\n"
            "  config: '{\"cniVersion\":\"1.0.0\",\"name\":\"macvlan-ens192\",\"plugins\":["
            "{\"ipam\":{\"type\":\"ipfence\"},\"master\":\"ens192\",\"mode\":\"bridge\","
            "\"type\":\"macvlan\"}]}'\n");
}

TEST(RenderNad, ObjectCarriesTheConflistAsText) {
  const SpiderMultusConfig config = seed_config();
  Result<nlohmann::json> conflist = render_conflist(config);
  ASSERT_TRUE(conflist.ok());
  const nlohmann::json nad = render_nad(config, *conflist);
  EXPECT_EQ(nad["apiVersion"], "k8s.cni.cncf.io/v1");
  EXPECT_EQ(nad["kind"], "NetworkAttachmentDefinition");
  EXPECT_EQ(nad["metadata"],
            (nlohmann::json{{"name", "macvlan-ens192"}, {"namespace", "kube-system"}}));
  EXPECT_EQ(nlohmann::json::parse(nad["spec"]["config"].get<std::string>()), *conflist);
}

TEST(ConflistFileName, IsTheConfigName) {
  EXPECT_EQ(conflist_file_name(seed_config()), "macvlan-ens192.conflist");
}

}  // namespace
}  // namespace ipfence::ipam
