// deploy/daemonset.yaml against the agent it deploys: the ConfigMap's settings and the
// DaemonSet's flags must be ones the agent accepts (a renamed flag would otherwise only show
// as a crash-looping pod), and the host paths the agent uses must be mounted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "agent/config.h"

namespace ipfence::agent {
namespace {

std::vector<YAML::Node> manifests() {
  std::ifstream in(std::string(IPFENCE_SOURCE_DIR) + "/deploy/daemonset.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return YAML::LoadAll(text.str());
}

YAML::Node find(const std::string& kind) {
  for (const auto& doc : manifests())
    if (doc["kind"].as<std::string>() == kind) return doc;
  ADD_FAILURE() << "deploy/daemonset.yaml has no " << kind;
  return {};
}

YAML::Node container(const YAML::Node& daemonset, const std::string& list,
                     const std::string& name) {
  for (const auto& c : daemonset["spec"]["template"]["spec"][list])
    if (c["name"].as<std::string>() == name) return c;
  ADD_FAILURE() << "no " << list << " named " << name;
  return {};
}

// The agent's config as the pod starts it: the ConfigMap's file, then the DaemonSet's flags.
AgentConfig deployed_config() {
  const YAML::Node config_map = find("ConfigMap");
  const YAML::Node daemonset = find("DaemonSet");
  const YAML::Node agent = container(daemonset, "containers", "agent");
  std::vector<std::string> args{"ipfence-agent"};
  for (const auto& arg : agent["args"]) {
    std::string a = arg.as<std::string>();
    if (a == "--node-name=$(NODE_NAME)") a = "--node-name=node1";  // the kubelet's expansion
    if (a.rfind("--config=", 0) == 0) continue;  // the file is applied below instead
    args.push_back(a);
  }
  AgentConfig config = parse_command_line(args).config;
  apply_config_yaml(config_map["data"]["agent.yaml"].as<std::string>(), "ConfigMap", config);
  finalize_config(config);
  return config;
}

TEST(DeployManifestTest, TheAgentAcceptsTheConfigMapAndTheFlags) {
  AgentConfig config;
  ASSERT_NO_THROW(config = deployed_config());
  EXPECT_EQ(config.node_name, "node1");
  EXPECT_EQ(config.store.rfind("etcd://", 0), 0u) << "a cluster shares one etcd store";
  EXPECT_EQ(config.metrics_addr, "0.0.0.0:9711") << "Prometheus scrapes the node's address";
  const YAML::Node agent = container(find("DaemonSet"), "containers", "agent");
  EXPECT_EQ(agent["args"][0].as<std::string>(), "--config=/etc/ipfence/agent.yaml");
  EXPECT_EQ(agent["ports"][0]["containerPort"].as<int>(), 9711);
}

TEST(DeployManifestTest, EveryHostPathTheAgentUsesIsMounted) {
  const AgentConfig config = deployed_config();
  const YAML::Node daemonset = find("DaemonSet");
  const YAML::Node agent = container(daemonset, "containers", "agent");
  std::vector<std::string> mounts;
  for (const auto& m : agent["volumeMounts"]) mounts.push_back(m["mountPath"].as<std::string>());
  auto mounted = [&](const std::string& path) {
    for (const auto& m : mounts)
      if (path == m || path.rfind(m + "/", 0) == 0) return true;
    return false;
  };
  EXPECT_TRUE(mounted(config.bpf_pin_dir)) << config.bpf_pin_dir;
  EXPECT_TRUE(mounted(config.socket)) << config.socket;
  EXPECT_TRUE(mounted(config.cni_conf_dir)) << config.cni_conf_dir;
  EXPECT_TRUE(mounted("/sys/fs/cgroup/kubepods.slice")) << "--pod-cgroup=auto looks there";
  EXPECT_TRUE(mounted("/var/run/netns/cni-1234")) << "pod namespaces, for the pod guard";
  EXPECT_TRUE(daemonset["spec"]["template"]["spec"]["hostNetwork"].as<bool>());
  EXPECT_TRUE(agent["securityContext"]["privileged"].as<bool>());
  // The plugin lands where runtimes look for it.
  const YAML::Node install = container(daemonset, "initContainers", "install-cni-plugin");
  EXPECT_EQ(install["volumeMounts"][0]["mountPath"].as<std::string>(), "/host/opt/cni/bin");
  EXPECT_EQ(install["command"][2].as<std::string>(), "/host/opt/cni/bin/ipfence");
}

}  // namespace
}  // namespace ipfence::agent
