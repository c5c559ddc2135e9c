// One simulated node for end-to-end tests: a node network namespace with a macvlan master
// (a veth whose far end is an "outside host" namespace), a temporary store and CNI conf dir,
// and the real ipfence-agent running inside the node namespace. Everything is removed again
// when the object goes away, also when a test fails half-way.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/support/cni_runtime.h"
#include "tests/e2e/support/netns.h"
#include "tests/e2e/support/process.h"

namespace ipfence::e2e {

struct AgentNodeOptions {
  std::string master = "ens192";
  std::string outside_cidr = "10.6.0.1/16";
  std::string node_name = "node1";
  std::string store_url;  // empty: a file store in the node's temp dir
  std::vector<std::string> extra_agent_args;
  bool start_agent = true;
  // Run ipfencectl inside the node namespace, for a store only the node reaches (etcd over
  // the node's link: etcd_cluster.h).
  bool ctl_in_node_netns = false;
  // How long start_agent() waits for /v1/healthz (a bench's 65,536 pods from etcd take ~10 s).
  std::chrono::seconds start_timeout{10};
};

class AgentNode {
 public:
  explicit AgentNode(const std::string& tag, AgentNodeOptions options = {});
  ~AgentNode();
  AgentNode(const AgentNode&) = delete;
  AgentNode& operator=(const AgentNode&) = delete;

  NodeTopology& topology() { return *topology_; }
  const std::string& dir() const { return dir_; }
  const std::string& store_url() const { return store_url_; }
  std::string socket() const { return dir_ + "/agent.sock"; }
  std::string conf_dir() const { return dir_ + "/net.d"; }
  std::string metrics_addr() const;  // host:port the agent reports in /v1/status

  // The store the agent and ipfencectl use from now on (before start_agent()).
  void set_store_url(std::string url) { store_url_ = std::move(url); }
  void start_agent();
  // Sends `signal`; returns the exit code (see ChildProcess::stop).
  int stop_agent(int signal = 15);
  ChildProcess& agent() { return agent_; }

  // ipfencectl --store <this node's store> args...
  ProcessResult ctl(const std::vector<std::string>& args, const std::string& input = "") const;
  // ipfencectl apply -f - with `yaml`; fails the test when it does not succeed.
  std::string apply(const std::string& yaml) const;
  // GET/POST on the agent's socket with curl; returns {http status, body}.
  std::pair<int, nlohmann::json> agent_request(const std::string& method, const std::string& path,
                                               const nlohmann::json& body = nullptr) const;

  // Waits for the agent to write the conflist of SpiderMultusConfig `name`, and returns a
  // runtime that runs it inside the node namespace with ipfence's plugin dir on CNI_PATH.
  CniRuntime runtime(const std::string& name,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  static std::string cni_path();

 private:
  std::string tag_;
  AgentNodeOptions options_;
  std::string dir_;
  std::string store_url_;
  std::unique_ptr<NodeTopology> topology_;
  ChildProcess agent_;
};

// The seed's objects with the master name filled in.
std::string seed_multus_config(const std::string& master);
extern const char* const kSeedReservedYaml;
extern const char* const kSeedPoolYaml;

}  // namespace ipfence::e2e
