#include "tests/e2e/support/cni_runtime.h"

#include <unistd.h>

#include <sstream>

namespace ipfence::e2e {

CniRuntime::CniRuntime(nlohmann::json conflist, std::string cni_path, std::string node_netns)
    : conflist_(std::move(conflist)),
      cni_path_(std::move(cni_path)),
      node_netns_(std::move(node_netns)) {}

nlohmann::json CniRuntime::plugin_config(std::size_t index, const nlohmann::json* prev,
                                         const CniCall* call) const {
  nlohmann::json config = conflist_.at("plugins").at(index);
  config["name"] = conflist_.at("name");
  config["cniVersion"] = conflist_.at("cniVersion");
  if (call && call->cni_args.is_object()) config["args"]["cni"] = call->cni_args;
  if (prev && !prev->is_null()) config["prevResult"] = *prev;
  return config;
}

std::map<std::string, std::string> CniRuntime::env(const std::string& command,
                                                   const CniCall& call) const {
  std::string args = "IgnoreUnknown=1";
  for (const auto& [k, v] : call.args) args += ";" + k + "=" + v;
  return {{"CNI_COMMAND", command},  {"CNI_CONTAINERID", call.container_id},
          {"CNI_NETNS", call.netns}, {"CNI_IFNAME", call.ifname},
          {"CNI_ARGS", args},        {"CNI_PATH", cni_path_}};
}

CniOutcome CniRuntime::exec(const std::string& plugin_type, const std::string& command,
                            const nlohmann::json& config, const CniCall& call) const {
  std::string binary;
  std::stringstream dirs(cni_path_);
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (access((dir + "/" + plugin_type).c_str(), X_OK) == 0) {
      binary = dir + "/" + plugin_type;
      break;
    }
  CniOutcome outcome;
  if (binary.empty()) {
    outcome.exit_code = 1;
    outcome.stderr_text = "plugin " + plugin_type + " not found in " + cni_path_;
    return outcome;
  }
  std::vector<std::string> argv;
  if (!node_netns_.empty()) argv = {"ip", "netns", "exec", node_netns_};
  argv.push_back(binary);
  ProcessResult r = run_process(argv, env(command, call), config.dump(), std::chrono::seconds(60));
  outcome.exit_code = r.exit_code;
  outcome.stderr_text = r.err;
  if (!r.out.empty()) {
    try {
      outcome.output = nlohmann::json::parse(r.out);
    } catch (const std::exception&) {
      outcome.output = r.out;  // not JSON: keep the text for the assertion message
    }
  }
  return outcome;
}

CniOutcome CniRuntime::add(const CniCall& call) {
  nlohmann::json prev;
  CniOutcome outcome;
  const auto& plugins = conflist_.at("plugins");
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    outcome = exec(plugins[i].at("type"), "ADD", plugin_config(i, &prev, &call), call);
    if (!outcome.ok()) {
      // As CRI runtimes do: tear down after a failed ADD. It matters here because
      // macvlan 1.1.1 leaks its link when IPAM fails (a shadowed err in its cleanup).
      del(call);
      return outcome;
    }
    prev = outcome.output;
  }
  results_[{call.container_id, call.ifname}] = prev;
  return outcome;
}

CniOutcome CniRuntime::del(const CniCall& call) {
  auto cached = results_.find({call.container_id, call.ifname});
  const nlohmann::json* prev = cached == results_.end() ? nullptr : &cached->second;
  CniOutcome outcome;
  const auto& plugins = conflist_.at("plugins");
  for (std::size_t i = plugins.size(); i-- > 0;) {
    CniOutcome one = exec(plugins[i].at("type"), "DEL", plugin_config(i, prev, &call), call);
    if (!one.ok() && outcome.ok()) outcome = one;  // keep going, report the first error
  }
  if (outcome.ok()) results_.erase({call.container_id, call.ifname});
  return outcome;
}

CniOutcome CniRuntime::check(const CniCall& call) {
  auto cached = results_.find({call.container_id, call.ifname});
  const nlohmann::json* prev = cached == results_.end() ? nullptr : &cached->second;
  CniOutcome outcome;
  const auto& plugins = conflist_.at("plugins");
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    outcome = exec(plugins[i].at("type"), "CHECK", plugin_config(i, prev, &call), call);
    if (!outcome.ok()) return outcome;
  }
  return outcome;
}

CniOutcome CniRuntime::gc(const std::vector<std::pair<std::string, std::string>>& valid) {
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& [id, ifname] : valid)
    attachments.push_back({{"containerID", id}, {"ifname", ifname}});
  CniOutcome outcome;
  const auto& plugins = conflist_.at("plugins");
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    nlohmann::json config = plugin_config(i, nullptr);
    config["cni.dev/valid-attachments"] = attachments;
    CniOutcome one = exec(plugins[i].at("type"), "GC", config, CniCall{});
    if (!one.ok() && outcome.ok()) outcome = one;
  }
  return outcome;
}

CniOutcome CniRuntime::status() {
  CniOutcome outcome;
  const auto& plugins = conflist_.at("plugins");
  for (std::size_t i = 0; i < plugins.size(); ++i) {
    outcome = exec(plugins[i].at("type"), "STATUS", plugin_config(i, nullptr), CniCall{});
    if (!outcome.ok()) return outcome;
  }
  return outcome;
}

std::optional<nlohmann::json> CniRuntime::cached_result(const CniCall& call) const {
  auto it = results_.find({call.container_id, call.ifname});
  if (it == results_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ipfence::e2e
