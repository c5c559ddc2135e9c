// The CNI network configuration list (conflist) for a SpiderMultusConfig, and the Multus
// NetworkAttachmentDefinition that carries it. ipfencectl prints the NAD (`render nad`); the
// agent writes the conflist into the node's CNI configuration directory. One renderer for
// both, so that what a user inspects is what the node runs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ipam/model.h"
#include "ipam/result.h"

namespace ipfence::ipam {

// The conflist's cniVersion. The macvlan plugin we run with (Debian's
// containernetworking-plugins 1.1.1) supports versions up to 1.0.0, and a runtime refuses a
// list whose version one of its plugins does not support.
inline constexpr const char* kConflistCniVersion = "1.0.0";

// Where the agent listens unless told otherwise (docs/agent-api.md); the ipfence IPAM plugin
// assumes this path when the config names none.
inline constexpr const char* kDefaultAgentSocket = "/run/ipfence/agent.sock";

struct RenderOptions {
  // The agent's socket. Rendered as ipam.socket only when set and not the default, so that
  // configs stay short and unchanged for the common case.
  std::string agent_socket;
};

// {"cniVersion":"1.0.0","name":<metadata.name>,
//  "plugins":[{"type":"macvlan","master":<master>,"mode":"bridge",
//              "ipam":{"type":"ipfence","default_ipv4_ippool":[..],"default_ipv6_ippool":[..]}}]}
// - spec.macvlan.vlanID 1..4094 makes the master "<master>.<vlanID>": Spiderpool creates that
//   VLAN interface with its ifacer plugin; ipfence does not, so it must exist on the node.
// - More than one master is an error: Spiderpool bonds them with ifacer; ipfence creates no
//   bonds.
// - Empty pool lists are left out; spec.disableIPAM leaves out the whole ipam section.
// - spec.enableCoordinator is not rendered: ipfence ships no coordinator plugin, and naming
//   a plugin that is not installed would fail every ADD.
// Errors (ErrorCode::invalid_argument) name the field, e.g.
//   spec.macvlan.master: 2 masters need a bond, which ipfence does not create; name one master
Result<nlohmann::json> render_conflist(const SpiderMultusConfig& config,
                                       const RenderOptions& options = {});

// The NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) that Multus reads: metadata name and
// namespace of the config, spec.config = the conflist as compact JSON text.
nlohmann::json render_nad(const SpiderMultusConfig& config, const nlohmann::json& conflist);
// The same as YAML, spec.config single-quoted (readable JSON, no backslashes), e.g.
//   apiVersion: k8s.cni.cncf.io/v1
//   kind: NetworkAttachmentDefinition
//   metadata:
//     name: macvlan-ens192
//     namespace: kube-system
//   spec:
//     config: '{"cniVersion":"1.0.0","name":"macvlan-ens192","plugins":[...]}'
std::string render_nad_yaml(const SpiderMultusConfig& config, const nlohmann::json& conflist);

// The file name the agent writes the conflist to: "<metadata.name>.conflist", matching the
// conflist's "name". Configs of one name in two namespaces would share the file: the agent
// must refuse the second rather than let one overwrite the other.
std::string conflist_file_name(const SpiderMultusConfig& config);

}  // namespace ipfence::ipam
