// Helpers for the CNI end-to-end tests (cni_verbs, concurrency, agent_restart): pod
// attachments, pool manifests, a runtime for the agent's conflist with changed keys, running
// the ipfence plugin directly (GC/STATUS/1.1.0, raw stdin) and reading allocations back.
// Header-only, so the support library's sources stay as they are.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/e2e/support/agent_node.h"

namespace ipfence::e2e {

// A pod's CNI call as kubelet would make it: CNI_ARGS carry the pod's identity.
inline CniCall pod_attachment(const Netns& pod, const std::string& container,
                              const std::string& pod_name) {
  CniCall call;
  call.container_id = container;
  call.netns = pod.path();
  call.ifname = "eth0";
  call.args = {{"K8S_POD_NAMESPACE", "default"},
               {"K8S_POD_NAME", pod_name},
               {"K8S_POD_UID", "uid-" + pod_name},
               {"K8S_POD_INFRA_CONTAINER_ID", container}};
  return call;
}

// "10.6.168.133/16" of the first ips[] entry of a result; "" when there is none.
inline std::string result_address(const CniOutcome& outcome) {
  if (!outcome.output.is_object() || !outcome.output.contains("ips")) return "";
  const auto& ips = outcome.output.at("ips");
  if (!ips.is_array() || ips.empty()) return "";
  return ips.at(0).value("address", "");
}

inline std::string without_prefix(const std::string& cidr) {
  return cidr.substr(0, cidr.find('/'));
}

// Manifests, as a user would write them.
inline std::string ippool_yaml(const std::string& name, const std::string& subnet,
                               const std::vector<std::string>& ranges, bool is_default = false) {
  std::string yaml = "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\n";
  yaml += "metadata:\n  name: " + name + "\n";
  yaml += "spec:\n  subnet: " + subnet + "\n  ips:\n";
  for (const auto& range : ranges) yaml += "  - " + range + "\n";
  if (is_default) yaml += "  default: true\n";
  return yaml;
}

inline std::string reservedip_yaml(const std::string& name,
                                   const std::vector<std::string>& ranges) {
  std::string yaml = "apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderReservedIP\n";
  yaml += "metadata:\n  name: " + name + "\n";
  yaml += "spec:\n  ips:\n";
  for (const auto& range : ranges) yaml += "  - " + range + "\n";
  return yaml;
}

// The agent's conflist changed by `edit` (cniVersion, ipam keys, plugin args...).
inline CniRuntime edited_runtime(AgentNode& node, const CniRuntime& base,
                                 const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json conflist = base.conflist();
  edit(conflist);
  return CniRuntime(conflist, AgentNode::cni_path(), node.topology().node().name());
}

// What a runtime hands the list's first plugin, as the netconf for running the ipfence
// plugin directly: the macvlan plugin's keys with the list's name and `cni_version`.
inline nlohmann::json direct_netconf(const CniRuntime& runtime, const std::string& cni_version) {
  nlohmann::json config = runtime.conflist().at("plugins").at(0);
  config["name"] = runtime.conflist().at("name");
  config["cniVersion"] = cni_version;
  return config;
}

// Runs the ipfence plugin inside the node namespace with `stdin_text` as it is (for stdin
// that is not JSON, which CniRuntime::exec cannot send).
inline CniOutcome exec_ipfence_raw(AgentNode& node, const std::string& command,
                                   const std::string& stdin_text, const CniCall& call) {
  std::vector<std::string> argv = node.topology().node().exec_prefix();
  argv.push_back(std::string(IPFENCE_PLUGIN_DIR) + "/ipfence");
  std::string args = "IgnoreUnknown=1";
  for (const auto& [k, v] : call.args) args += ";" + k + "=" + v;
  ProcessResult r = run_process(argv,
                                {{"CNI_COMMAND", command},
                                 {"CNI_CONTAINERID", call.container_id},
                                 {"CNI_NETNS", call.netns},
                                 {"CNI_IFNAME", call.ifname},
                                 {"CNI_ARGS", args},
                                 {"CNI_PATH", AgentNode::cni_path()}},
                                stdin_text);
  CniOutcome outcome;
  outcome.exit_code = r.exit_code;
  outcome.stderr_text = r.err;
  if (!r.out.empty()) {
    outcome.output = nlohmann::json::parse(r.out, nullptr, false);
    if (outcome.output.is_discarded()) outcome.output = r.out;
  }
  return outcome;
}

// `ipfencectl get allocations -o json`: the items (Allocation objects) of the List.
inline nlohmann::json stored_allocations(const AgentNode& node) {
  ProcessResult r = node.ctl({"get", "allocations", "-o", "json"});
  if (r.exit_code != 0) throw std::runtime_error("ipfencectl get allocations: " + r.err);
  return nlohmann::json::parse(r.out).at("items");
}

// The IPs of stored_allocations(); a multiset, so an IP held twice shows as two entries.
inline std::multiset<std::string> stored_ips(const AgentNode& node) {
  std::multiset<std::string> ips;
  for (const auto& item : stored_allocations(node)) ips.insert(item.at("ip").get<std::string>());
  return ips;
}

// Waits until the agent's /v1/status lists pool `name` (its view follows the store by
// polling; allocations catch up by themselves, STATUS answers from the view as it is).
inline bool wait_for_pool(const AgentNode& node, const std::string& name,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return wait_until(
      [&] {
        auto [code, body] = node.agent_request("GET", "/v1/status");
        if (code != 200 || !body.is_object() || !body.contains("pools")) return false;
        for (const auto& pool : body["pools"])
          if (pool.value("name", "") == name) return true;
        return false;
      },
      timeout);
}

// True when the pod namespace has no interface `ifname` (macvlan's link is gone).
inline bool link_gone(const Netns& pod, const std::string& ifname = "eth0") {
  return sh_result("ip netns exec " + pod.name() + " ip link show " + ifname + " 2>/dev/null")
             .exit_code != 0;
}

}  // namespace ipfence::e2e
