// A minimal container runtime side of CNI, following libcni's rules for a conflist: each
// plugin gets the list's name and cniVersion injected and the previous plugin's result as
// prevResult; DEL runs the plugins in reverse with the cached ADD result. Used by the e2e
// tests, the demo (through tools/cnirun) and bench/cni. Plugins run inside a "node" network
// namespace, as the runtime of that node would run them.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/e2e/support/process.h"

namespace ipfence::e2e {

struct CniCall {
  std::string container_id;
  std::string netns;  // path
  std::string ifname = "eth0";
  std::map<std::string, std::string> args;  // CNI_ARGS beyond IgnoreUnknown=1
  // Put into every plugin config as "args": {"cni": ...} (e.g. the pod's
  // ipam.spidernet.io/ippool annotation, the way a runtime hands it over without Kubernetes).
  nlohmann::json cni_args;
};

struct CniOutcome {
  int exit_code = 0;
  nlohmann::json output;  // the result, or the error JSON (null when stdout is empty)
  std::string stderr_text;
  bool ok() const { return exit_code == 0; }
  int code() const { return output.is_object() ? output.value("code", 0) : 0; }
  std::string msg() const { return output.is_object() ? output.value("msg", "") : ""; }
};

class CniRuntime {
 public:
  // `node_netns` empty = run plugins in the caller's namespace.
  CniRuntime(nlohmann::json conflist, std::string cni_path, std::string node_netns = "");

  // On failure, runs DEL for the same attachment before returning, as CRI runtimes do.
  CniOutcome add(const CniCall& call);
  CniOutcome del(const CniCall& call);
  CniOutcome check(const CniCall& call);
  // Runs one verb of one plugin with a raw config (for error-path tests).
  CniOutcome exec(const std::string& plugin_type, const std::string& command,
                  const nlohmann::json& config, const CniCall& call) const;
  // GC (1.1.0) with valid attachments / STATUS, against every plugin of the list.
  CniOutcome gc(const std::vector<std::pair<std::string, std::string>>& valid);
  CniOutcome status();

  const nlohmann::json& conflist() const { return conflist_; }
  std::optional<nlohmann::json> cached_result(const CniCall& call) const;

 private:
  nlohmann::json plugin_config(std::size_t index, const nlohmann::json* prev,
                               const CniCall* call = nullptr) const;
  std::map<std::string, std::string> env(const std::string& command, const CniCall& call) const;

  nlohmann::json conflist_;
  std::string cni_path_;
  std::string node_netns_;
  std::map<std::pair<std::string, std::string>, nlohmann::json> results_;
};

}  // namespace ipfence::e2e
