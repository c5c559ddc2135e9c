#include "tests/e2e/support/agent_node.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ipfence::e2e {

const char* const kSeedReservedYaml = R"(apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderReservedIP
metadata:
  name: test-reservedip
spec:
  ips:
  - 10.6.168.131-10.6.168.132
)";

const char* const kSeedPoolYaml = R"(apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata:
  name: test-ippool
spec:
  subnet: 10.6.0.0/16
  ips:
  - 10.6.168.131-10.6.168.133
)";

std::string seed_multus_config(const std::string& master) {
  return "apiVersion: spiderpool.spidernet.io/v2beta1\n"
         "kind: SpiderMultusConfig\n"
         "metadata:\n"
         "  name: macvlan-" +
         master +
         "\n"
         "  namespace: kube-system\n"
         "spec:\n"
         "  cniType: macvlan\n"
         "  enableCoordinator: true\n"
         "  macvlan:\n"
         "    master:\n"
         "    - " +
         master + "\n";
}

AgentNode::AgentNode(const std::string& tag, AgentNodeOptions options)
    : tag_(tag), options_(std::move(options)) {
  char dir_template[] = "/tmp/ipfence-e2e-XXXXXX";
  if (!mkdtemp(dir_template)) throw std::runtime_error("mkdtemp failed");
  dir_ = dir_template;
  std::filesystem::create_directories(conf_dir());
  store_url_ = options_.store_url.empty() ? "file://" + dir_ + "/store" : options_.store_url;
  try {
    topology_ = std::make_unique<NodeTopology>(tag, options_.master, options_.outside_cidr);
    if (options_.start_agent) start_agent();
  } catch (...) {
    // The destructor does not run for a half-built object: undo here, then rethrow.
    agent_.stop(9);
    topology_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

AgentNode::~AgentNode() {
  stop_agent(15);
  topology_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void AgentNode::start_agent() {
  std::vector<std::string> argv = topology_->node().exec_prefix();
  for (const std::string& a :
       {std::string(IPFENCE_AGENT_BIN), "--store=" + store_url_, "--socket=" + socket(),
        "--node-name=" + options_.node_name, "--cni-conf-dir=" + conf_dir(),
        std::string("--metrics-addr=127.0.0.1:0"), std::string("--log-level=debug")})
    argv.push_back(a);
  // The guard needs a bpffs the test mounts itself (`ip netns exec` hides /sys/fs/bpf): a test
  // that names neither a pin dir nor --guard gets IPAM only, as before the guard existed.
  const bool guard_named = std::any_of(
      options_.extra_agent_args.begin(), options_.extra_agent_args.end(), [](const std::string& a) {
        return a == "--bpf-pin-dir" || a.rfind("--bpf-pin-dir=", 0) == 0 || a == "--guard" ||
               a.rfind("--guard=", 0) == 0;
      });
  if (!guard_named) argv.push_back("--guard=off");
  for (const auto& a : options_.extra_agent_args) argv.push_back(a);
  agent_ = ChildProcess(argv, dir_ + "/agent.log");
  bool up = wait_until(
      [&] {
        return std::filesystem::exists(socket()) &&
               agent_request("GET", "/v1/healthz").first == 200;
      },
      options_.start_timeout);
  if (!up) throw std::runtime_error("ipfence-agent did not come up:\n" + agent_.log());
}

int AgentNode::stop_agent(int signal) {
  return agent_.stop(signal);
}

ProcessResult AgentNode::ctl(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> argv;
  if (options_.ctl_in_node_netns) argv = topology_->node().exec_prefix();
  for (const std::string& a : {std::string(IPFENCE_CTL_BIN), std::string("--store"), store_url_})
    argv.push_back(a);
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, {}, input);
}

std::string AgentNode::apply(const std::string& yaml) const {
  ProcessResult r = ctl({"apply", "-f", "-"}, yaml);
  if (r.exit_code != 0) throw std::runtime_error("ipfencectl apply failed: " + r.err);
  return r.out;
}

std::pair<int, nlohmann::json> AgentNode::agent_request(const std::string& method,
                                                        const std::string& path,
                                                        const nlohmann::json& body) const {
  std::vector<std::string> argv{"curl",
                                "-s",
                                "-m",
                                "10",
                                "-o",
                                "-",
                                "-w",
                                "\n%{http_code}",
                                "--unix-socket",
                                socket(),
                                "-X",
                                method,
                                "http://agent" + path};
  if (!body.is_null()) {
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", "@-"});
  }
  ProcessResult r = run_process(argv, {}, body.is_null() ? "" : body.dump());
  auto newline = r.out.rfind('\n');
  if (r.exit_code != 0 || newline == std::string::npos) return {0, nullptr};
  int status = std::atoi(r.out.c_str() + newline + 1);
  nlohmann::json json = nlohmann::json::parse(r.out.substr(0, newline), nullptr, false);
  return {status, json.is_discarded() ? nlohmann::json(r.out.substr(0, newline)) : json};
}

std::string AgentNode::metrics_addr() const {
  auto [status, body] = agent_request("GET", "/v1/status");
  if (status != 200) return "";
  return body.value("metricsAddr", "");
}

std::string AgentNode::cni_path() {
  return std::string(IPFENCE_PLUGIN_DIR) + ":/usr/lib/cni";
}

CniRuntime AgentNode::runtime(const std::string& name, std::chrono::milliseconds timeout) const {
  // As libcni does: only *.conf, *.conflist and *.json count, and each file is read once (the
  // agent replaces files by rename, so a path seen a moment ago may be gone now).
  nlohmann::json conflist;
  wait_until(
      [&] {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(conf_dir(), ec)) {
          std::string ext = entry.path().extension();
          if (ext != ".conf" && ext != ".conflist" && ext != ".json") continue;
          std::ifstream in(entry.path());
          nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
          if (!j.is_discarded() && j.is_object() && j.value("name", "") == name) {
            conflist = std::move(j);
            return true;
          }
        }
        return false;
      },
      timeout);
  if (conflist.is_null())
    throw std::runtime_error("no conflist named " + name + " in " + conf_dir());
  return CniRuntime(std::move(conflist), cni_path(), topology_->node().name());
}

}  // namespace ipfence::e2e
