#include "ipam/cni_config.h"

#include <yaml-cpp/yaml.h>

namespace ipfence::ipam {

namespace {

// VLAN IDs 0 and 4095 are reserved by 802.1Q; 0 means "untagged" in a SpiderMultusConfig.
constexpr int kMaxVlanId = 4094;

Result<std::string> master_interface(const MacvlanSpec& macvlan) {
  if (macvlan.master.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "spec.macvlan.master: no master interface named; name one");
  }
  if (macvlan.master.size() > 1) {
    return make_error(ErrorCode::invalid_argument,
                      "spec.macvlan.master: " + std::to_string(macvlan.master.size()) +
                          " masters need a bond, which ipfence does not create; name one master");
  }
  std::string master = macvlan.master.front();
  if (macvlan.vlan_id && *macvlan.vlan_id != 0) {
    int vlan = *macvlan.vlan_id;
    if (vlan < 0 || vlan > kMaxVlanId) {
      return make_error(ErrorCode::invalid_argument,
                        "spec.macvlan.vlanID: " + std::to_string(vlan) + " is not in 0..4094");
    }
    // Spiderpool's ifacer plugin creates this VLAN interface; ipfence expects it to exist.
    master += "." + std::to_string(vlan);
  }
  return master;
}

}  // namespace

Result<nlohmann::json> render_conflist(const SpiderMultusConfig& config,
                                       const RenderOptions& options) {
  const MultusConfigSpec& spec = config.spec;
  if (spec.cni_type != "macvlan") {
    return make_error(ErrorCode::invalid_argument,
                      "spec.cniType: \"" + spec.cni_type + "\" is not supported; use macvlan");
  }
  IPF_ASSIGN_OR_RETURN(std::string master, master_interface(spec.macvlan));

  nlohmann::json plugin = {{"type", "macvlan"}, {"master", master}, {"mode", "bridge"}};
  if (!spec.disable_ipam) {
    nlohmann::json ipam = {{"type", "ipfence"}};
    if (!spec.macvlan.ipv4_pools.empty()) ipam["default_ipv4_ippool"] = spec.macvlan.ipv4_pools;
    if (!spec.macvlan.ipv6_pools.empty()) ipam["default_ipv6_ippool"] = spec.macvlan.ipv6_pools;
    if (!options.agent_socket.empty() && options.agent_socket != kDefaultAgentSocket) {
      ipam["socket"] = options.agent_socket;
    }
    plugin["ipam"] = std::move(ipam);
  }
  // spec.enableCoordinator is deliberately ignored: ipfence ships no coordinator plugin.
  return nlohmann::json{{"cniVersion", kConflistCniVersion},
                        {"name", config.metadata.name},
                        {"plugins", nlohmann::json::array({std::move(plugin)})}};
}

nlohmann::json render_nad(const SpiderMultusConfig& config, const nlohmann::json& conflist) {
  nlohmann::json metadata = {{"name", config.metadata.name}};
  if (!config.metadata.namespace_.empty()) metadata["namespace"] = config.metadata.namespace_;
  return nlohmann::json{{"apiVersion", "k8s.cni.cncf.io/v1"},
                        {"kind", "NetworkAttachmentDefinition"},
                        {"metadata", std::move(metadata)},
                        {"spec", {{"config", conflist.dump()}}}};
}

std::string render_nad_yaml(const SpiderMultusConfig& config, const nlohmann::json& conflist) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "k8s.cni.cncf.io/v1";
  out << YAML::Key << "kind" << YAML::Value << "NetworkAttachmentDefinition";
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << config.metadata.name;
  if (!config.metadata.namespace_.empty()) {
    out << YAML::Key << "namespace" << YAML::Value << config.metadata.namespace_;
  }
  out << YAML::EndMap;
  // Single quotes keep the JSON readable (no backslash before every '"'), as Multus docs
  // and kubectl show it.
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "config" << YAML::Value << YAML::SingleQuoted << conflist.dump();
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string conflist_file_name(const SpiderMultusConfig& config) {
  return config.metadata.name + ".conflist";
}

}  // namespace ipfence::ipam
